// Drawing only: heat maps, data points and curves from numbers the server computed.

export const NEG = [224, 128, 58];   // orange: class 0, negative values
export const POS = [47, 124, 184];   // blue: class 1, positive values
const MID = [247, 248, 250];
const CLASS_COLORS = [NEG, POS, [90, 160, 90], [150, 100, 180], [200, 80, 110], [110, 110, 110], [190, 170, 60], [60, 170, 170], [160, 110, 70], [120, 140, 200]];

function mix(a, b, t) { return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]; }

// t in [0, 1]: 0 orange, 0.5 near white, 1 blue; soft, for maps under the points.
export function diverging(t, strength = 0.75) {
  const c = t < 0.5 ? mix(NEG, MID, t * 2) : mix(MID, POS, (t - 0.5) * 2);
  return mix(MID, c, strength);
}

export function decode(map) {
  const raw = atob(map.data);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

// Paint a size x size map (bytes 0..255) onto a canvas; classes (optional) picks a colour per cell.
export function paintMap(canvas, map, size, { strength = 0.75, classes = null } = {}) {
  const values = decode(map);
  const labels = classes ? decode(classes) : null;
  const image = new ImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const t = values[i] / 255;
    const c = labels ? mix(MID, CLASS_COLORS[labels[i] % CLASS_COLORS.length], strength * t) : diverging(t, strength);
    image.data[i * 4] = c[0]; image.data[i * 4 + 1] = c[1]; image.data[i * 4 + 2] = c[2]; image.data[i * 4 + 3] = 255;
  }
  const buffer = new OffscreenCanvas(size, size);
  buffer.getContext("2d").putImageData(image, 0, 0);
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.drawImage(buffer, 0, 0, canvas.width, canvas.height);
}

export function pointColor(state, label) {
  if (state.task === "regression") {
    const [low, high] = state.target_range;
    const c = diverging((label - low) / (high - low || 1), 1);
    return `rgb(${c.map(Math.round).join(",")})`;
  }
  const c = CLASS_COLORS[label % CLASS_COLORS.length];
  return `rgb(${c.join(",")})`;
}

// Data points over the map; test points get a dark ring; the selected sample a large ring.
export function drawPoints(canvas, state, showTest, selected) {
  const context = canvas.getContext("2d");
  const [x1min, x1max, x2min, x2max] = state.bounds;
  const px = (x) => ((x - x1min) / (x1max - x1min)) * canvas.width;
  const py = (y) => ((x2max - y) / (x2max - x2min)) * canvas.height;
  const draw = (part, test) => {
    part.x.forEach(([a, b], i) => {
      context.beginPath();
      context.arc(px(a), py(b), 3.2, 0, 2 * Math.PI);
      context.fillStyle = pointColor(state, part.y[i]);
      context.fill();
      context.lineWidth = test ? 1.4 : 0.8;
      context.strokeStyle = test ? "#111827" : "rgba(255,255,255,0.9)";
      context.stroke();
    });
  };
  draw(state.train, false);
  if (showTest) draw(state.test, true);
  const n = state.train.x.length;
  const point = selected < n ? state.train.x[selected] : state.test.x[selected - n];
  if (point) {
    context.beginPath();
    context.arc(px(point[0]), py(point[1]), 7, 0, 2 * Math.PI);
    context.lineWidth = 2.5;
    context.strokeStyle = "#0f766e";
    context.stroke();
  }
  // axes ticks: the plane's corners
  context.fillStyle = "rgba(31,41,51,0.6)";
  context.font = "10px system-ui";
  context.fillText(x1min.toFixed(1), 3, canvas.height - 4);
  context.fillText(x1max.toFixed(1), canvas.width - 24, canvas.height - 4);
  context.fillText(x2max.toFixed(1), 3, 11);
}

export function planePoint(canvas, state, event) {
  const rect = canvas.getBoundingClientRect();
  const [x1min, x1max, x2min, x2max] = state.bounds;
  const u = (event.clientX - rect.left) / rect.width;
  const v = (event.clientY - rect.top) / rect.height;
  return [x1min + u * (x1max - x1min), x2max - v * (x2max - x2min)];
}

// Lines over a shared x axis. series: [{values:[...], color}], log: log10 y axis.
export function drawLines(canvas, xs, series, { log = false, unit = "step" } = {}) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const f = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const all = series.flatMap((s) => s.values.filter((v) => v != null && Number.isFinite(v)).map(f));
  if (xs.length < 2 || all.length === 0) return;
  let low = log ? Math.min(...all) : Math.min(0, ...all);
  let high = Math.max(...all);
  if (high - low < 1e-9) { high += 0.5; low -= 0.5; }
  const x0 = xs[0], x1 = xs[xs.length - 1] || 1;
  const X = (x) => 4 + ((x - x0) / (x1 - x0 || 1)) * (width - 8);
  const Y = (v) => height - 12 - ((f(v) - low) / (high - low)) * (height - 18);
  context.strokeStyle = "#eef0f3"; context.lineWidth = 1;
  for (let k = 0; k <= 2; k++) { const y = 6 + (k * (height - 18)) / 2; context.beginPath(); context.moveTo(0, y); context.lineTo(width, y); context.stroke(); }
  for (const s of series) {
    context.beginPath(); context.strokeStyle = s.color; context.lineWidth = 1.6;
    let started = false;
    s.values.forEach((v, i) => {
      if (v == null || !Number.isFinite(v)) return;
      if (!started) { context.moveTo(X(xs[i]), Y(v)); started = true; } else context.lineTo(X(xs[i]), Y(v));
    });
    context.stroke();
  }
  context.fillStyle = "#66727f"; context.font = "10px system-ui";
  const label = (v) => (log ? `1e${Math.round(v)}` : v.toPrecision(2));
  context.fillText(label(high), 4, 14);
  let offset = width - 6;
  for (const s of [...series].reverse()) {
    if (!s.name) continue;
    offset -= context.measureText(s.name).width + 8;
    context.fillStyle = s.color;
    context.fillText(s.name, offset, 14);
  }
  context.fillStyle = "#66727f";
  const right = `${unit} ${x1}`;
  context.fillText(right, width - 6 - context.measureText(right).width, height - 2);
}

export const LAYER_COLORS = ["#0f766e", "#2f7cb8", "#9b59b6", "#e0803a", "#6b7280", "#b45309", "#be185d"];
