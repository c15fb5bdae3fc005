"""Named parts: turning a name such as ``"relu"`` or ``"adam"`` into the object it names.

Activations, losses, optimizers and schedules each keep a table of their classes by name
(``ACTIVATIONS``, ``LOSSES``, ...). :func:`get` is the one lookup they all use: an instance is
returned as it is, a name is normalized (any case, ``-`` for ``_``, the table's aliases) and its
class is built with the given arguments; anything else is refused with a message that says what
was expected, suggests the closest name and lists the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from .errors import DeltapropTypeError, ValidationError
from .suggest import closest
from .validation import construct

T = TypeVar("T")


def get(
    kind: str,
    value: object,
    table: Mapping[str, type[T]],
    base: type[T],
    config: dict,
    *,
    example: str,
    default: str | None = None,
    aliases: Mapping[str, str] | None = None,
    also_known: Iterable[str] = (),
) -> T:
    """Return the part ``value`` names, built with ``config``, or ``value`` if it is a part.

    Parameters
    ----------
    kind : str
        What is looked up, for messages: ``"activation"``, ``"loss"``, ...
    value : str, instance of ``base``, or None
        A name, a ready part (returned unchanged, ``config`` unused), or None for ``default``.
    table : mapping of str to class
        The known names and their classes.
    base : class
        The base class of the parts.
    config : dict
        Constructor arguments for the named class (checked by ``validation.construct``).
    example : str
        A name to show in the message for a value that is neither a name nor a part.
    default : str, optional
        The name None stands for; without one, None is refused like any other non-name.
    aliases : mapping of str to str, optional
        Other names (normalized) for entries of ``table``.
    also_known : iterable of str
        Further names the caller handles itself, listed in the "choose one of" message.
    """
    if value is None and default is not None:
        value = default
    if isinstance(value, base):
        return value
    if not isinstance(value, str):
        article = "an" if base.__name__[0] in "AEIOU" else "a"
        raise DeltapropTypeError(
            f"{kind} must be a name such as {example!r} or {article} {base.__name__}, "
            f"got {type(value)}"
        )
    key = value.lower().replace("-", "_")
    key = (aliases or {}).get(key, key)
    if key not in table:
        raise ValidationError(
            f"unknown {kind} {value!r}{closest(key, table)}; "
            f"choose one of {', '.join([*table, *also_known])}"
        )
    return construct(f"{kind} {key!r}", table[key], config)
