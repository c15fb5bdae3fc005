// The backpropagation panel: a unit's equations with one sample's numbers, and the step-through.
const PHASE_MS = 900;
const PHASE_NAMES = { forward: "Forward pass", loss: "Loss", backward: "Backward pass", update: "Update" };

export class Backprop {
  constructor({ view, onDone }) {
    this.view = view;
    this.onDone = onDone;   // called when a step-through has played to its end
    this.playing = false;
    this.equations = document.getElementById("equations");
    this.checks = document.querySelector("#checks tbody");
    this.info = document.getElementById("sample-info");
    this.phase = document.getElementById("phase");
  }

  clear() {
    this.checks.innerHTML = "";
    this.view.highlight(null);
  }

  showUnit(message) {
    const s = message.sample;
    const where = message.layer === this.view.nodes.length - 1 ? `output unit ${message.unit}` : `layer ${message.layer}, unit ${message.unit}`;
    const x = s.x.map((v, k) => `${s.inputs[k]} = ${v.toPrecision(3)}`).join(", ");
    this.info.textContent = `${s.part} sample #${s.index + 1} (${x}; y = ${s.y}) · ${where} · loss ${message.loss.toPrecision(4)}`;
    this.info.dataset.part = s.part;
    this.info.dataset.index = String(s.index);
    if (this.playing) return;
    this.render(message.latex);
    this.checks.innerHTML = "";
    for (const check of message.checks) {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      katex.render(`\\partial\\mathcal{L}/\\partial ${check.name}`, name, { throwOnError: false });
      row.append(name);
      for (const key of ["analytic", "numeric", "error"]) {
        const cell = document.createElement("td");
        cell.className = key;
        cell.textContent = check[key];
        row.append(cell);
      }
      this.checks.append(row);
    }
  }

  render(lines, note = "") {
    this.equations.innerHTML = "";
    for (const line of lines) {
      const block = document.createElement("div");
      block.className = "line";
      block.dataset.tex = line;
      // inline mode (with display-sized fractions) lets a long sum wrap after + and =
      katex.render(`\\displaystyle ${line}`, block, { throwOnError: false });
      this.equations.append(block);
    }
    if (note) {
      const p = document.createElement("p");
      p.className = "note";
      p.textContent = note;
      this.equations.append(p);
    }
  }

  // Play the phases of one step: each layer forward, the loss, each δ backwards, the update.
  async play(message) {
    this.playing = true;
    document.body.dataset.stepping = "true";
    for (const phase of message.phases) {
      const layer = phase.kind === "update" ? null : phase.layer;
      const title = phase.kind === "update" ? "" : ` · layer ${phase.layer}`;
      this.phase.textContent = `${PHASE_NAMES[phase.kind]}${phase.kind === "loss" ? "" : title}`;
      this.phase.dataset.kind = phase.kind;
      this.view.label(layer, phase.values, phase.kind === "backward" ? "δ" : "a");
      if (phase.kind === "update") {
        const [layer, unit] = this.view.selected || [phase.weights.length, 1];
        this.view.linkLabels(layer, unit, phase.weights[layer - 1]);  // before the links change
        this.view.weights(phase.weights);
      }
      this.render(phase.latex, phase.kind === "update" ? message.note : `Batch of ${message.batch}; the numbers on the units are sample 1's.`);
      await new Promise((resolve) => setTimeout(resolve, PHASE_MS));
    }
    this.view.label(null);
    this.view.linkLabels(null);
    this.phase.textContent = "Step done";
    this.playing = false;
    document.body.dataset.stepping = "false";
    this.onDone();
  }
}
