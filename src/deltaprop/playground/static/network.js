// The network diagram: a column per layer, a small heat map per unit, a line per weight.
import { paintMap } from "./plots.js";

const NODE = 28, PITCH = 33, FIRST = 58; // node size, centre-to-centre, first centre (px)

export class NetworkView {
  constructor(root, { onUnit, onUnits }) {
    this.root = root;
    this.svg = root.querySelector("#links");
    this.onUnit = onUnit;      // (layer, unit) clicked, both from 1
    this.onUnits = onUnits;    // (hiddenIndex, delta) for the +/- buttons
    this.selected = null;
  }

  build(state) {
    this.state = state;
    this.root.querySelectorAll(".column").forEach((c) => c.remove());
    this.svg.innerHTML = "";
    const sizes = state.sizes, L = sizes.length - 1;
    // as tall as the widest layer, so that the equations below get the rest of the panel
    this.root.style.height = `${FIRST + Math.max(4, ...sizes) * PITCH}px`;
    const width = this.root.clientWidth, columns = sizes.length;
    const left = 84, right = 90;
    this.x = sizes.map((_, c) => left + (c * (width - left - right)) / (columns - 1));
    this.nodes = [];
    sizes.forEach((n, c) => {
      const column = document.createElement("div");
      column.className = "column";
      column.style.left = `${this.x[c] - NODE / 2 - 30}px`;
      column.style.width = `${NODE + 60}px`;
      const head = document.createElement("div");
      head.className = "column-head";
      if (c === 0) head.textContent = "Inputs";
      else if (c === L) head.textContent = "Output";
      else {
        head.innerHTML = `<div>Layer ${c}: ${n} unit${n > 1 ? "s" : ""}</div>`;
        const units = document.createElement("div");
        units.className = "units";
        for (const [text, delta, id] of [["+", 1, "add-unit"], ["−", -1, "remove-unit"]]) {
          const button = document.createElement("button");
          button.textContent = text;
          button.dataset.testid = `${id}-${c}`;
          button.title = `${delta > 0 ? "Add a unit to" : "Remove a unit from"} layer ${c}`;
          button.addEventListener("click", () => this.onUnits(c - 1, delta));
          units.append(button);
        }
        head.append(units);
      }
      column.append(head);
      const nodes = [];
      for (let j = 0; j < n; j++) {
        const node = document.createElement("div");
        node.className = "node" + (c === 0 ? " input" : "");
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = state.unit_grid;
        node.append(canvas);
        if (c === 0) {
          const name = document.createElement("span");
          name.className = "input-name";
          katex.render(texName(state.inputs[j]), name, { throwOnError: false });
          node.append(name);
        } else {
          node.dataset.testid = c === L ? `output-${j + 1}` : `unit-${c}-${j + 1}`;
          node.title = c === L ? `Output unit ${j + 1}: click for its equations` : `Layer ${c}, unit ${j + 1}: click for its equations`;
          node.addEventListener("click", () => this.onUnit(c, j + 1));
        }
        const value = document.createElement("span");
        value.className = "value hidden";
        node.append(value);
        column.append(node);
        nodes.push(node);
      }
      this.root.append(column);
      this.nodes.push(nodes);
    });
    this.links = [];
    for (let l = 1; l <= L; l++) {
      const rows = [];
      for (let j = 0; j < sizes[l]; j++) {
        const row = [];
        for (let k = 0; k < sizes[l - 1]; k++) {
          const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
          const a = this.center(l - 1, k), b = this.center(l, j);
          line.setAttribute("x1", a[0] + NODE / 2); line.setAttribute("y1", a[1]);
          line.setAttribute("x2", b[0] - NODE / 2); line.setAttribute("y2", b[1]);
          this.svg.append(line);
          row.push(line);
        }
        rows.push(row);
      }
      this.links.push(rows);
    }
    state.input_maps.forEach((map, k) => paintMap(this.nodes[0][k].querySelector("canvas"), map, state.unit_grid));
    this.highlight(this.selected);
  }

  center(c, j) {
    return [this.x[c], FIRST + j * PITCH];
  }

  update(update, state) {
    update.unit_maps.forEach((layer, l) => layer.forEach((map, j) => {
      const node = this.nodes[l + 1] && this.nodes[l + 1][j];
      if (node) paintMap(node.querySelector("canvas"), map, state.unit_grid);
    }));
    const L = this.nodes.length - 1;
    this.nodes[L].forEach((node) => paintMap(node.querySelector("canvas"), update.output_map, state.output_grid, { classes: update.output_map.classes }));
    this.weights(update.weights);
  }

  weights(weights) {
    weights.forEach((matrix, l) => matrix.forEach((row, j) => row.forEach((w, k) => {
      const line = this.links[l] && this.links[l][j] && this.links[l][j][k];
      if (!line) return;
      line.setAttribute("stroke", w >= 0 ? "#2f7cb8" : "#e0803a");
      line.setAttribute("stroke-width", Math.min(0.4 + Math.abs(w) * 1.6, 7).toFixed(2));
      line.setAttribute("stroke-opacity", Math.min(0.25 + Math.abs(w) * 0.5, 0.95).toFixed(2));
      line.dataset.weight = w;
    })));
  }

  // Old and new values on the links into one unit (the step-through's update); null clears.
  linkLabels(layer, unit, weights) {
    this.svg.querySelectorAll(".link-label").forEach((t) => t.remove());
    if (layer == null) return;
    const rows = this.links[layer - 1];
    if (!rows || !rows[unit - 1]) return;
    rows[unit - 1].forEach((line, k) => {
      const text = document.createElementNS("http://www.w3.org/2000/svg", "text");
      // a third of the way from the source, where the links into one unit are furthest apart
      const x = (2 * Number(line.getAttribute("x1")) + Number(line.getAttribute("x2"))) / 3;
      const y = (2 * Number(line.getAttribute("y1")) + Number(line.getAttribute("y2"))) / 3;
      text.setAttribute("x", x); text.setAttribute("y", y - 3);
      text.setAttribute("class", "link-label");
      text.textContent = `${Number(line.dataset.weight).toPrecision(3)} → ${Number(weights[unit - 1][k]).toPrecision(3)}`;
      this.svg.append(text);
    });
  }

  highlight(selected) {
    this.selected = selected;
    this.root.querySelectorAll(".node.selected").forEach((n) => n.classList.remove("selected"));
    if (selected && this.nodes[selected[0]] && this.nodes[selected[0]][selected[1] - 1]) {
      this.nodes[selected[0]][selected[1] - 1].classList.add("selected");
    }
  }

  // Numbers on one layer's units (step-through); null clears every label.
  label(layer, values, prefix) {
    this.root.querySelectorAll(".node.active").forEach((n) => n.classList.remove("active"));
    this.root.querySelectorAll(".node .value").forEach((v) => v.classList.add("hidden"));
    if (layer == null) return;
    (this.nodes[layer] || []).forEach((node, j) => {
      node.classList.add("active");
      const value = node.querySelector(".value");
      value.textContent = `${prefix}=${Number(values[j]).toPrecision(3)}`;
      value.classList.remove("hidden");
    });
  }
}

const TEX = { x1: "x_1", x2: "x_2", "x1^2": "x_1^2", "x2^2": "x_2^2", "x1*x2": "x_1 x_2", "sin(x1)": "\\sin x_1", "sin(x2)": "\\sin x_2" };
export function texName(name) {
  return TEX[name] || `\\text{${name.replace(/[\\{}$&#^_%~]/g, "")}}`;
}
