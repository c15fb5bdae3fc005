"""``deltaprop playground``: build, train and step through backpropagation in the browser.

The server (``server.py``, needs the ``playground`` extra) gives each browser tab a
``Session`` (``session.py``): a real ``deltaprop.Network`` trained by ``Network.fit``, whose
numbers the page shows, with the seed's equations from ``deltaprop.explain``. The data sets,
input features and configuration are plain NumPy modules that the exported Python snippet uses
too; ``static/`` is the page (JavaScript modules, CSS and a vendored KaTeX).
"""
