// The page: one WebSocket to this tab's session; every number shown comes from the server.
import { NetworkView, texName } from "./network.js";
import { drawLines, drawPoints, LAYER_COLORS, paintMap, planePoint } from "./plots.js";
import { Backprop } from "./backprop.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const HIDDEN_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus"];
const LOSSES = { classification: ["binary_cross_entropy", "cross_entropy"], regression: ["mse", "mae", "huber"] };
const REGRESSION_SETS = ["plane", "multi_gaussian"];
const FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"];
const MAX_UPLOAD = 1000000;

let socket, sessionId, state = null, last = null, playing = false;
let curves = [], flows = [];
const view = new NetworkView($("network"), {
  onUnit: (layer, unit) => { view.highlight([layer, unit]); send({ type: "explain", layer, unit }); },
  onUnits: (index, delta) => {
    const hidden = [...state.config.hidden];
    hidden[index] = Math.min(8, Math.max(1, hidden[index] + delta));
    configure({ hidden });
  },
});
const backprop = new Backprop({ view, onDone: () => { if (last) showUpdate(last); } });

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}
function configure(config) { send({ type: "configure", config }); }

function status(text, kind = "error") {
  const element = $("status");
  element.textContent = text || "";
  element.className = `message ${text ? kind : ""}`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
  socket.addEventListener("close", () => { status("Disconnected from the playground server: restart `deltaprop playground` and reload."); document.body.dataset.connected = "false"; });
}

let restored = false;
const linked = configFromUrl();  // read before the first state rewrites the hash
function receive(message) {
  switch (message.type) {
    case "hello":
      sessionId = message.session;
      document.body.dataset.connected = "true";
      break;
    case "state":
      showState(message);
      if (!restored) { restored = true; if (linked) configure(linked); }
      break;
    case "update":
      last = message;
      if (!backprop.playing) showUpdate(message);
      break;
    case "equations": backprop.showUnit(message); break;
    case "selected": state.selected = message.selected; redrawOutput(); break;
    case "step_through": backprop.play(message); break;
    case "snippet": $("snippet-text").textContent = message.text; $("snippet-dialog").showModal(); break;
    case "diverged": setPlaying(false); status(message.message); break;
    case "upload_error": uploadMessage(message.message, "error"); break;
    case "notice": uploadMessage(message.message, "ok"); break;
    case "error": status(message.message); break;
  }
}

function showState(message) {
  state = message;
  curves = message.curves.slice();
  flows = message.grad_flows.slice();
  const config = message.config;
  for (const element of document.querySelectorAll("[data-config]")) {
    const value = config[element.dataset.config];
    // A state that arrives while the user types into a control must not undo the typing.
    if (value === undefined || element.dataset.editing) continue;
    if (element.tagName === "SELECT" && element.dataset.number !== undefined) ensureOption(element, value);
    element.value = String(value);
  }
  fillSelect($("loss"), LOSSES[message.task], config.loss);
  $("csv-option").disabled = !message.upload;
  $("csv-option").textContent = message.upload ? `Uploaded: ${message.upload}` : "Uploaded CSV (none yet)";
  $("train-ratio-value").textContent = `${Math.round(config.train_ratio * 100)}%`;
  $("noise-value").textContent = config.noise;
  $("n-points-value").textContent = config.n_points;
  $("n-points").disabled = $("noise").disabled = config.dataset === "csv";
  showColumns(message);
  $("curve-kind").querySelector("[value=accuracy]").disabled = message.task !== "classification";
  if (message.task !== "classification") $("curve-kind").value = "loss";
  showFeatures(config);
  $("layer-count").textContent = `${config.hidden.length} hidden layer${config.hidden.length === 1 ? "" : "s"}`;
  $("add-layer").disabled = config.hidden.length >= 6;
  $("remove-layer").disabled = config.hidden.length === 0;
  view.build(message);
  backprop.clear();
  saveConfigToUrl(config);
}

function ensureOption(select, value) {
  if (![...select.options].some((o) => Number(o.value) === Number(value))) {
    const option = document.createElement("option");
    option.textContent = String(value);
    select.append(option);
  }
  for (const o of select.options) if (Number(o.value) === Number(value)) o.value = String(value);
}

function fillSelect(select, values, selected) {
  select.innerHTML = values.map((v) => `<option value="${v}">${v.replaceAll("_", " ")}</option>`).join("");
  select.value = selected;
}

function showColumns(message) {
  const wrap = $("shown-columns");
  wrap.classList.toggle("hidden", message.config.dataset !== "csv");
  if (message.config.dataset !== "csv") return;
  for (const [id, index] of [["shown-x", 0], ["shown-y", 1]]) {
    const select = $(id);
    select.innerHTML = message.columns.map((c, i) => `<option value="${i}"></option>`).join("");
    [...select.options].forEach((o, i) => { o.textContent = message.columns[i]; });
    select.value = String(message.config.shown[index]);
  }
}

function showFeatures(config) {
  const box = $("features");
  box.innerHTML = "";
  for (const name of FEATURES) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = config.features.includes(name);
    input.dataset.testid = `feature-${name}`;
    input.addEventListener("change", () => {
      const chosen = FEATURES.filter((f) => (f === name ? input.checked : config.features.includes(f)));
      if (chosen.length === 0) { input.checked = true; status("Keep at least one input feature."); return; }
      configure({ features: chosen });
    });
    const tex = document.createElement("span");
    katex.render(texName(name), tex, { throwOnError: false });
    label.append(input, tex);
    box.append(label);
  }
}

function showUpdate(update) {
  setPlaying(update.playing);
  $("epoch").textContent = String(update.epoch);
  $("steps").textContent = String(update.step);
  $("loss-train").textContent = fmt(update.loss_train);
  $("loss-test").textContent = fmt(update.loss_test);
  $("acc-train").textContent = update.accuracy_train == null ? "" : `accuracy ${(update.accuracy_train * 100).toFixed(1)}%`;
  $("acc-test").textContent = update.accuracy_test == null ? "" : `accuracy ${(update.accuracy_test * 100).toFixed(1)}%`;
  const lastCurve = curves[curves.length - 1];
  if (!lastCurve || lastCurve[0] !== update.curve[0]) curves.push(update.curve);
  if (update.grad_flow && update.step !== (flows.lastStep ?? -1)) { flows.push(update.grad_flow); flows.lastStep = update.step; }
  if (curves.length > 800) curves = curves.filter((_, i) => i % 2 === 0 || i > 600);
  if (flows.length > 600) flows = flows.slice(-600);
  view.update(update, state);
  redrawOutput();
  drawCurves();
  const layers = flows.length ? flows[flows.length - 1].length : 0;
  drawLines($("grad-flow"), flows.map((_, i) => i), Array.from({ length: layers }, (_, l) => ({ values: flows.map((f) => f[l]), color: LAYER_COLORS[l % LAYER_COLORS.length], name: `W${l + 1}` })), { log: true, unit: "update" });
  if (update.message) status(update.message); else if (!playing) status("");
}

function drawCurves() {
  const column = $("curve-kind").value === "accuracy" ? 3 : 1;  // see Session._record_curve
  drawLines($("loss-curve"), curves.map((c) => c[0]), [
    { values: curves.map((c) => c[column]), color: "#4b5563" },
    { values: curves.map((c) => c[column + 1]), color: "#2f7cb8" },
  ]);
}

function redrawOutput() {
  if (!state || !last) return;
  const canvas = $("output-map");
  paintMap(canvas, last.output_map, state.output_grid, { strength: 0.6, classes: last.output_map.classes });
  drawPoints(canvas, state, $("show-test").checked, state.selected);
}

function fmt(value) { return value == null ? "–" : Number(value).toFixed(3); }

function setPlaying(value) {
  playing = !!value;
  $("play").textContent = playing ? "❚❚" : "▶";
  $("play").classList.toggle("playing", playing);
  $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
}

function uploadMessage(text, kind) {
  const element = $("upload-message");
  element.textContent = text;
  element.className = `message ${kind}`;
}

// ---------------------------------------------------------------- the configuration in the URL
function saveConfigToUrl(config) {
  const shareable = { ...config };
  if (shareable.dataset === "csv") delete shareable.dataset;
  const hash = "#config=" + encodeURIComponent(JSON.stringify(shareable));
  history.replaceState(null, "", location.pathname + location.search + hash);
}
function configFromUrl() {
  const match = location.hash.match(/^#config=(.*)$/);
  if (!match) return null;
  try {
    const config = JSON.parse(decodeURIComponent(match[1]));
    delete config.shown;
    return config;
  } catch { status("The link's configuration could not be read; using the defaults."); return null; }
}

// ---------------------------------------------------------------- controls
function wire() {
  fillSelect($("activation"), HIDDEN_ACTIVATIONS, "tanh");
  for (const element of document.querySelectorAll("[data-config]")) {
    element.addEventListener("input", () => { element.dataset.editing = "true"; });
    element.addEventListener("change", () => {
      delete element.dataset.editing;
      const key = element.dataset.config;
      let value = element.dataset.number !== undefined ? Number(element.value) : element.value;
      const change = { [key]: value };
      if (key === "dataset" && state) {
        const regression = REGRESSION_SETS.includes(value);
        if (value !== "csv" && regression !== (state.task === "regression")) change.loss = regression ? "mse" : "binary_cross_entropy";
      }
      configure(change);
    });
  }
  for (const id of ["train-ratio", "noise", "n-points"]) {
    $(id).addEventListener("input", () => { $(`${id}-value`).textContent = id === "train-ratio" ? `${Math.round($(id).value * 100)}%` : $(id).value; });
  }
  $("play").addEventListener("click", () => send({ type: playing ? "pause" : "play" }));
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("train-epoch").addEventListener("click", () => send({ type: "epoch" }));
  $("reset").addEventListener("click", () => { curves = []; flows = []; send({ type: "reset" }); });
  $("step-through").addEventListener("click", () => { if (!backprop.playing) send({ type: "step_through" }); });
  $("add-layer").addEventListener("click", () => configure({ hidden: [...state.config.hidden, 4] }));
  $("remove-layer").addEventListener("click", () => configure({ hidden: state.config.hidden.slice(0, -1) }));
  $("show-test").addEventListener("change", redrawOutput);
  $("curve-kind").addEventListener("change", drawCurves);
  $("output-map").addEventListener("click", (event) => {
    const [x1, x2] = planePoint($("output-map"), state, event);
    send({ type: "select", x1, x2 });
  });
  $("shown-x").addEventListener("change", () => configure({ shown: [Number($("shown-x").value), Number($("shown-y").value)] }));
  $("shown-y").addEventListener("change", () => configure({ shown: [Number($("shown-x").value), Number($("shown-y").value)] }));
  $("csv-upload").addEventListener("change", async () => {
    const file = $("csv-upload").files[0];
    if (!file) return;
    if (file.size > MAX_UPLOAD) { uploadMessage(`${file.name} is ${file.size.toLocaleString()} bytes; the playground takes CSV files up to ${MAX_UPLOAD.toLocaleString()} bytes`, "error"); return; }
    uploadMessage(`reading ${file.name}…`, "");
    send({ type: "upload", name: file.name, text: await file.text() });
    $("csv-upload").value = "";
  });
  $("export").addEventListener("click", async () => {
    // fetched first, so that a refusal (a diverged network) shows its message, not a file
    const response = await fetch(`/api/export?token=${encodeURIComponent(token)}&session=${encodeURIComponent(sessionId)}`);
    if (!response.ok) { status(await response.text()); return; }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "playground.safetensors";
    document.body.append(link); link.click(); link.remove();
    URL.revokeObjectURL(link.href);
  });
  $("snippet").addEventListener("click", () => send({ type: "snippet" }));
  $("copy-snippet").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("snippet-text").textContent));
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); status("Link copied: it reopens this configuration.", "ok"); }
    catch { status(`Link: ${location.href}`, "ok"); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea, dialog") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.code === "Space") { event.preventDefault(); if (!event.repeat) send({ type: playing ? "pause" : "play" }); }
    else if (event.key === "s") send({ type: "step" });
  });
  // a focused button would also take Space as a click (on key up): one press, one toggle
  document.addEventListener("keyup", (event) => {
    if (event.code === "Space" && event.target.tagName === "BUTTON") event.preventDefault();
  });
  for (const element of document.querySelectorAll(".tex")) katex.render(element.dataset.tex, element, { throwOnError: false });
  window.addEventListener("resize", () => { if (state) { view.build(state); if (last) showUpdate(last); } });
}

wire();
connect();
