// The drawing page: pointer-event drawing (mouse, touch, pen), undo/clear, photo upload,
// and the call to POST api/v1/solve. No dependencies, so the page works offline.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const boxes = $("boxes");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_UPLOAD = Number(document.querySelector("main").dataset.maxUpload) || 10 * 1024 * 1024;
  // Photos are shown (and re-encoded, when drawn over) at most this large.
  const MAX_SIDE = 1600;
  // Plain words for the API's error codes; the server's message is shown as well.
  const HEADLINES = {
    nothing_found: "No symbols found. Write a bit larger or bolder.",
    invalid_expression: "That could not be read as one expression.",
    division_by_zero: "That divides by zero, so it has no value.",
    invalid_image: "That file could not be read as a picture.",
    unsupported_media_type: "That kind of file is not supported. Use a PNG or JPEG photo.",
    too_large: "That picture is too large.",
    internal_error: "Something went wrong on the server.",
  };
  const SHOW = { "*": "\u00d7", "/": "\u00f7", "-": "\u2212" };

  // The canvas keeps its own pixel size; CSS scales it to the screen. Portrait phones get
  // a taller page so there is room to write.
  const narrow = window.matchMedia("(max-width: 600px)").matches;
  const DEFAULT_SIZE = narrow ? [600, 400] : [900, 300];

  let strokes = []; // {width, points: [[x, y], ...]} in canvas pixels
  let current = null;
  let background = null; // an uploaded photo drawn under the strokes
  let uploaded = null; // {file, width, height}: sent as-is while nothing is drawn over it

  function setSize(width, height) {
    pad.width = width;
    pad.height = height;
    boxes.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  function redraw() {
    // An opaque white background, so the exported PNG has black ink on white.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    if (background) ctx.drawImage(background, 0, 0, pad.width, pad.height);
    for (const s of strokes) drawStroke(s, 0);
  }

  function drawStroke(stroke, from) {
    ctx.strokeStyle = "#000";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = stroke.width;
    const pts = stroke.points;
    ctx.beginPath();
    const start = Math.max(0, from - 1);
    ctx.moveTo(pts[start][0], pts[start][1]);
    if (pts.length === 1) ctx.lineTo(pts[0][0] + 0.01, pts[0][1]); // a dot
    for (let i = start + 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
    ctx.stroke();
  }

  function toCanvas(ev) {
    const r = pad.getBoundingClientRect();
    return [((ev.clientX - r.left) * pad.width) / r.width, ((ev.clientY - r.top) * pad.height) / r.height];
  }

  function penWidth(ev) {
    const base = Number($("pen").value);
    // A stylus reports pressure; a mouse always reports 0.5.
    return ev.pointerType === "pen" && ev.pressure > 0 ? base * (0.5 + ev.pressure) : base;
  }

  pad.addEventListener("pointerdown", (ev) => {
    if (ev.pointerType === "mouse" && ev.button !== 0) return;
    ev.preventDefault();
    pad.setPointerCapture(ev.pointerId);
    current = { id: ev.pointerId, width: penWidth(ev), points: [toCanvas(ev)] };
    strokes.push(current);
    clearBoxes();
    drawStroke(current, 0);
  });

  pad.addEventListener("pointermove", (ev) => {
    if (!current || ev.pointerId !== current.id) return;
    ev.preventDefault();
    const from = current.points.length;
    const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
    for (const e of events.length ? events : [ev]) current.points.push(toCanvas(e));
    drawStroke(current, from);
  });

  const endStroke = (ev) => {
    if (current && ev.pointerId === current.id) current = null;
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  function undo() {
    if (current) return;
    strokes.pop();
    clearBoxes();
    redraw();
  }

  function clearAll() {
    strokes = [];
    background = null;
    uploaded = null;
    $("file").value = "";
    setSize(...DEFAULT_SIZE);
    clearBoxes();
    showStatus("Ready.");
    redraw();
  }

  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clearAll);
  document.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") {
      ev.preventDefault();
      undo();
    }
  });

  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    if (!file) return;
    strokes = [];
    background = null;
    uploaded = { file, width: 0, height: 0 };
    clearBoxes();
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode(); // applies the photo's EXIF orientation, as the server does
      const scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
      setSize(Math.round(img.naturalWidth * scale), Math.round(img.naturalHeight * scale));
      background = img;
      uploaded.width = img.naturalWidth;
      uploaded.height = img.naturalHeight;
      redraw();
      showStatus(`Loaded ${file.name}. Press Solve, or draw over it first.`);
    } catch {
      // The browser cannot show it (e.g. HEIC); the server may still read it or explain why not.
      setSize(...DEFAULT_SIZE);
      redraw();
      showStatus(`Cannot preview ${file.name}; press Solve to send it anyway.`);
    } finally {
      URL.revokeObjectURL(url);
    }
  });

  async function solve() {
    if (!strokes.length && !uploaded) {
      showError("Draw an expression first, or choose a photo.");
      return;
    }
    let blob;
    let scale = 1; // from the server's image pixels to canvas pixels
    if (uploaded && !strokes.length && uploaded.file.size <= MAX_UPLOAD) {
      blob = uploaded.file; // the original, at full resolution
      if (uploaded.width) scale = pad.width / uploaded.width;
    } else {
      blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    }
    const form = new FormData();
    form.append("image", blob, (uploaded && uploaded.file.name) || "drawing.png");
    const button = $("solve");
    button.disabled = true;
    button.textContent = "Solving\u2026";
    showStatus("Solving\u2026");
    try {
      const response = await fetch("api/v1/solve", { method: "POST", body: form });
      let data = null;
      try {
        data = await response.json();
      } catch {
        data = null;
      }
      showResult(response, data, scale);
    } catch {
      showError("The server could not be reached. Check the connection and try again.");
    } finally {
      button.disabled = false;
      button.textContent = "Solve";
    }
  }
  $("solve").addEventListener("click", solve);

  function pretty(expression) {
    // Numbers stay together; operators get room and their printed glyphs.
    return expression.replace(/[-+*/]/g, (op) => ` ${SHOW[op] || op} `).trim();
  }

  function showResult(response, data, scale) {
    clearResult();
    if (data && Array.isArray(data.tokens)) drawBoxes(data.tokens, scale);
    if (data && Array.isArray(data.warnings)) {
      for (const w of data.warnings) {
        const li = document.createElement("li");
        li.textContent = w;
        $("warnings").append(li);
      }
    }
    if (response.ok && data && typeof data.expression === "string") {
      $("expression").textContent = pretty(data.expression);
      $("value").textContent = data.value;
      const decimal = data.decimal == null ? "" : String(data.decimal);
      // The server rounds non-terminating decimals to 12 places.
      const rounded = (decimal.split(".")[1] || "").length >= 12;
      $("decimal").textContent =
        decimal && decimal !== String(data.value) ? `${rounded ? "\u2248" : "="} ${decimal}` : "";
      $("answer").hidden = false;
      showStatus(`Read ${data.tokens.length} symbol${data.tokens.length === 1 ? "" : "s"}.`);
      return;
    }
    const err = (data && data.error) || {};
    const headline = HEADLINES[err.code] || `The request failed (HTTP ${response.status}).`;
    let text = headline;
    if (err.message && err.message !== headline) text += ` ${err.message}`;
    if (data && data.expression) text += ` (read: ${pretty(data.expression)})`;
    showError(text);
  }

  function drawBoxes(tokens, scale) {
    for (const t of tokens) {
      const [x, y, w, h] = t.box.map((v) => v * scale);
      const low = t.confidence < 0.6;
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", x);
      rect.setAttribute("y", y);
      rect.setAttribute("width", w);
      rect.setAttribute("height", h);
      rect.setAttribute("class", low ? "box low" : "box");
      const label = document.createElementNS(SVG_NS, "text");
      label.setAttribute("x", x);
      label.setAttribute("y", Math.max(16, y - 4));
      label.setAttribute("class", low ? "low" : "");
      label.textContent = `${SHOW[t.symbol] || t.symbol} ${Math.round(t.confidence * 100)}%`;
      boxes.append(rect, label);
    }
  }

  function clearBoxes() {
    boxes.replaceChildren();
  }

  function clearResult() {
    clearBoxes();
    $("answer").hidden = true;
    $("warnings").replaceChildren();
    $("error").hidden = true;
    $("error").textContent = "";
  }

  function showStatus(text) {
    $("status").textContent = text;
  }

  function showError(text) {
    $("answer").hidden = true;
    $("error").textContent = text;
    $("error").hidden = false;
    showStatus("");
  }

  setSize(...DEFAULT_SIZE);
  redraw();
})();
