// The drawing page: pointer-event drawing (mouse, touch, pen), undo/clear, photo upload
// with a box dragged around the sum, and the call to POST api/v1/solve. No dependencies,
// so the page works offline.
//
// Drawings are read as they are written: once the pen has rested for AUTO_SOLVE_MS the
// page asks the server. Any change to the drawing clears the answer at once, so what is
// on screen always belongs to what is on the canvas.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const boxes = $("boxes");
  const areaLayer = $("area");
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_UPLOAD = Number(document.querySelector("main").dataset.maxUpload) || 10 * 1024 * 1024;
  // Photos are shown (and re-encoded, when drawn over) at most this large.
  const MAX_SIDE = 1600;
  // Long enough that the gap between two strokes of one symbol ("+", "4") does not send a
  // request for half a symbol; short enough that the answer seems to follow the pen.
  const AUTO_SOLVE_MS = 300;
  // Plain words for the API's error codes; the server's message is shown as well.
  const HEADLINES = {
    nothing_found: "No symbols found. Write a bit larger or bolder.",
    incomplete_expression: "Not finished yet: write the rest.",
    no_expression: "That does not look like numbers and operators.",
    malformed_expression: "Some operators are in the wrong place.",
    invalid_expression: "That could not be read as one expression.",
    division_by_zero: "That divides by zero, so it has no value.",
    invalid_image: "That file could not be read as a picture.",
    invalid_region: "The box is not on the picture. Drag it again, or use the whole photo.",
    unsupported_media_type: "That kind of file is not supported. Use a PNG or JPEG photo.",
    too_large: "That picture is too large.",
    internal_error: "Something went wrong on the server.",
  };
  // How each token is shown: the vocabulary's table (mathocr.symbols.DISPLAY), from the server.
  const SHOW = JSON.parse(document.querySelector("main").dataset.display || "{}");

  // The canvas keeps its own pixel size; CSS scales it to the screen. Portrait phones get
  // a taller page so there is room to write.
  const narrow = window.matchMedia("(max-width: 600px)").matches;
  const DEFAULT_SIZE = narrow ? [600, 400] : [900, 300];

  let strokes = []; // {width, points: [[x, y], ...]} in canvas pixels
  let current = null;
  let background = null; // an uploaded photo drawn under the strokes
  let uploaded = null; // {file, width, height}: sent as-is while nothing is drawn over it
  // The part of the photo to read, {x0, y0, x1, y1} in canvas pixels (null: all of it), and
  // the one being dragged. Kept in canvas pixels because that is what the user sees; it is
  // turned into the pixels of whatever image is sent when Solve is pressed.
  let area = null;
  let dragging = null; // {id, x, y}: the pointer and the corner where the drag began
  // Bumped by every change to the drawing and by every solve: a response may paint only if
  // nothing happened since its request was made, so a slow answer to an older drawing (or
  // to an earlier press of Solve) never replaces a newer one.
  let generation = 0;
  let pending = null; // the debounce timer of the next automatic solve
  let inflight = null; // AbortController of the request on the wire

  function setSize(width, height) {
    pad.width = width;
    pad.height = height;
    for (const layer of [boxes, areaLayer]) layer.setAttribute("viewBox", `0 0 ${width} ${height}`);
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

  function clamp(v, low, high) {
    return Math.min(high, Math.max(low, v));
  }

  function penWidth(ev) {
    const base = Number($("pen").value);
    // A stylus reports pressure; a mouse always reports 0.5.
    return ev.pointerType === "pen" && ev.pressure > 0 ? base * (0.5 + ev.pressure) : base;
  }

  // ------------------------------------------------------------ keeping the answer current

  function cancelPending() {
    if (pending !== null) clearTimeout(pending);
    pending = null;
  }

  function drawingChanged() {
    generation++;
    cancelPending();
    // Its answer could no longer be shown; the server need not send it either.
    if (inflight) inflight.abort();
    inflight = null;
    clearResult();
  }

  function solveSoon() {
    cancelPending();
    if (!strokes.length) return;
    pending = setTimeout(() => {
      pending = null;
      solve();
    }, AUTO_SOLVE_MS);
  }

  // ------------------------------------------------------------ drawing

  pad.addEventListener("pointerdown", (ev) => {
    if (ev.pointerType === "mouse" && ev.button !== 0) return;
    if (dragging) return; // a second finger does not start another box
    ev.preventDefault();
    pad.setPointerCapture(ev.pointerId);
    if (selecting()) {
      startArea(ev);
      return;
    }
    current = { id: ev.pointerId, width: penWidth(ev), points: [toCanvas(ev)] };
    strokes.push(current);
    drawingChanged();
    drawStroke(current, 0);
  });

  pad.addEventListener("pointermove", (ev) => {
    if (dragging && ev.pointerId === dragging.id) {
      ev.preventDefault();
      moveArea(ev);
      return;
    }
    if (!current || ev.pointerId !== current.id) return;
    ev.preventDefault();
    const from = current.points.length;
    const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
    for (const e of events.length ? events : [ev]) current.points.push(toCanvas(e));
    drawStroke(current, from);
  });

  const endStroke = (ev) => {
    if (dragging && ev.pointerId === dragging.id) {
      endArea(ev);
      return;
    }
    if (!current || ev.pointerId !== current.id) return;
    current = null;
    solveSoon();
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  // ------------------------------------------------------------ the area of a photo to read

  function selecting() {
    return Boolean(background) && $("select").getAttribute("aria-pressed") === "true";
  }

  function corner(ev) {
    const [x, y] = toCanvas(ev);
    return [clamp(x, 0, pad.width), clamp(y, 0, pad.height)];
  }

  function startArea(ev) {
    const [x, y] = corner(ev);
    dragging = { id: ev.pointerId, x, y };
    setArea({ x0: x, y0: y, x1: x, y1: y });
  }

  function moveArea(ev) {
    const [x, y] = corner(ev);
    const a = dragging;
    setArea({ x0: Math.min(a.x, x), y0: Math.min(a.y, y), x1: Math.max(a.x, x), y1: Math.max(a.y, y) });
  }

  function endArea(ev) {
    if (ev.type !== "pointercancel") moveArea(ev);
    dragging = null;
    // A tap, or a drag the browser took back, selects nothing: the whole photo is read.
    const tiny = !area || area.x1 - area.x0 < 4 || area.y1 - area.y0 < 4;
    if (tiny || ev.type === "pointercancel") setArea(null);
    const next = area ? "the box, or Whole photo to read all of it" : "the photo";
    showStatus(`Press Solve to read ${next}.`);
  }

  function setArea(next) {
    area = next;
    drawingChanged();
    $("whole").hidden = !area;
    if (!area) {
      areaLayer.replaceChildren();
      return;
    }
    const { x0, y0, x1, y1 } = area;
    // Everything but the box is dimmed: the outer rectangle minus the box (even-odd fill).
    const shade = document.createElementNS(SVG_NS, "path");
    shade.setAttribute("class", "shade");
    shade.setAttribute("d", `M0 0H${pad.width}V${pad.height}H0Z M${x0} ${y0}H${x1}V${y1}H${x0}Z`);
    const frame = document.createElementNS(SVG_NS, "rect");
    frame.setAttribute("class", "frame");
    frame.setAttribute("x", x0);
    frame.setAttribute("y", y0);
    frame.setAttribute("width", x1 - x0);
    frame.setAttribute("height", y1 - y0);
    areaLayer.replaceChildren(shade, frame);
  }

  function regionField(scale) {
    // The box in the pixels of the image sent (canvas pixels times `scale`), widened to
    // whole pixels so that nothing inside the box the user drew is cut off.
    const x = Math.floor(area.x0 * scale);
    const y = Math.floor(area.y0 * scale);
    const w = Math.max(1, Math.ceil(area.x1 * scale) - x);
    const h = Math.max(1, Math.ceil(area.y1 * scale) - y);
    return `${x},${y},${w},${h}`;
  }

  function showPhotoTools(shown) {
    $("select").hidden = !shown;
    $("select").setAttribute("aria-pressed", String(shown));
    $("whole").hidden = true;
  }

  $("select").addEventListener("click", () => {
    const on = $("select").getAttribute("aria-pressed") !== "true";
    $("select").setAttribute("aria-pressed", String(on));
    const drag = "Drag a box around the sum on the photo.";
    showStatus(on ? drag : "Draw on the photo; press Select area to drag a box again.");
  });
  $("whole").addEventListener("click", () => {
    setArea(null);
    showStatus("Press Solve to read the whole photo.");
  });

  function undo() {
    if (current || !strokes.length) return;
    strokes.pop();
    drawingChanged();
    redraw();
    if (strokes.length) solveSoon();
    else showStatus(uploaded ? "Press Solve to read the photo." : "Ready.");
  }

  function clearAll() {
    drawingChanged();
    strokes = [];
    background = null;
    uploaded = null;
    setArea(null);
    showPhotoTools(false);
    $("file").value = "";
    setSize(...DEFAULT_SIZE);
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
    setArea(null); // also clears the answer: it belongs to the previous picture
    showPhotoTools(false);
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode(); // applies the photo's EXIF orientation, as the server does
      const scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
      setSize(Math.round(img.naturalWidth * scale), Math.round(img.naturalHeight * scale));
      background = img;
      // naturalWidth/Height are the photo as shown upright (the EXIF orientation applied),
      // the same pixels the server reads, so a box drawn over it means the same to both.
      uploaded.width = img.naturalWidth;
      uploaded.height = img.naturalHeight;
      redraw();
      showPhotoTools(true);
      showStatus(`Loaded ${file.name}. Drag a box around the sum if there is more on it, then press Solve.`);
    } catch {
      // The browser cannot show it (e.g. HEIC); the server may still read it or explain why not.
      setSize(...DEFAULT_SIZE);
      redraw();
      showStatus(`Cannot preview ${file.name}; press Solve to send it anyway.`);
    } finally {
      URL.revokeObjectURL(url);
    }
  });

  // ------------------------------------------------------------ solving

  async function solve() {
    cancelPending();
    if (!strokes.length && !uploaded) {
      showError("Draw an expression first, or choose a photo.");
      return;
    }
    if (inflight) inflight.abort();
    const mine = ++generation;
    const controller = new AbortController();
    inflight = controller;
    let blob;
    let scale = 1; // from the server's image pixels to canvas pixels
    if (uploaded && !strokes.length && uploaded.file.size <= MAX_UPLOAD) {
      blob = uploaded.file; // the original, at full resolution
      if (uploaded.width) scale = pad.width / uploaded.width;
    } else if (!background) {
      blob = drawingPng();
    } else {
      // A photo under the strokes is too large to encode on the main thread while the user
      // draws; toBlob encodes it off the main thread.
      blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
      // The pen may have moved on meanwhile.
      if (mine !== generation) return;
    }
    const form = new FormData();
    form.append("image", blob, (uploaded && uploaded.file.name) || "drawing.png");
    // Token boxes come back in the whole image's pixels, so they are drawn with `scale` as ever.
    if (area) form.append("region", regionField(1 / scale));
    showStatus("Reading\u2026");
    try {
      const response = await fetch("api/v1/solve", { method: "POST", body: form, signal: controller.signal });
      let data = null;
      try {
        data = await response.json();
      } catch {
        data = null;
      }
      if (mine === generation) showResult(response, data, scale);
    } catch {
      // An aborted request belongs to a drawing that is gone: nothing to say about it.
      if (mine !== generation) return;
      showError("The server could not be reached. Check the connection and try again.");
    } finally {
      if (inflight === controller) inflight = null;
    }
  }
  $("solve").addEventListener("click", solve);

  function drawingPng() {
    // Not toBlob: Chromium encodes it in an idle period and, when none comes, after a
    // second's wait, which the answer would wait for after every stroke. A drawing is
    // mostly white and encodes in a few milliseconds.
    const base64 = pad.toDataURL("image/png").split(",")[1];
    return new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: "image/png" });
  }

  function pretty(expression) {
    // Numbers stay together; operators get room and their printed glyphs.
    return expression.replace(/[-+*/=]/g, (op) => ` ${SHOW[op] || op} `).trim();
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
    if (response.ok && data && Array.isArray(data.lines)) {
      showLines(data.lines);
      const bad = data.lines.filter((line) => line.status === "error").length;
      showStatus(
        `Read ${data.lines.length} lines` + (bad ? `; ${bad} could not be read.` : "."),
      );
      return;
    }
    if (response.ok && data && typeof data.expression === "string") {
      // The best reading first; an "unsure" answer also offers the close runners-up.
      const others = data.status === "unsure" && Array.isArray(data.alternatives) ? data.alternatives : [];
      showReading([data, ...others], 0);
      const n = Array.isArray(data.tokens) ? data.tokens.length : 0;
      showStatus(
        others.length
          ? "Not sure about one reading: if it is wrong, pick another below."
          : `Read ${n} symbol${n === 1 ? "" : "s"}.`,
      );
      return;
    }
    const err = (data && data.error) || {};
    if (err.code === "incomplete_expression" && data.expression) {
      // Half-written is not a mistake: show what is there so far, and no alarm.
      $("partial").textContent = `${pretty(data.expression)} \u2026`;
      $("partial").hidden = false;
      showStatus(HEADLINES.incomplete_expression);
      return;
    }
    const headline = HEADLINES[err.code] || `The request failed (HTTP ${response.status}).`;
    let text = headline;
    if (err.message && err.message !== headline) text += ` ${err.message}`;
    if (data && data.expression) text += ` (read: ${pretty(data.expression)})`;
    showError(text);
  }

  // "12+69 = 81"; an equation to check "1+1=2 ✓", or "2×3=5 ✗ 6" with the right answer.
  function answerText(r) {
    const written = pretty(r.expression);
    if (r.status === "error") return `${written ? written + ": " : ""}${r.error}`;
    if (r.correct === true) return `${written} \u2713`;
    if (r.correct === false) return `${written} \u2717 ${SHOW["="] || "="} ${r.value}`;
    return `${pretty(r.expression.replace(/=$/, ""))} = ${r.value}`;
  }

  function showLines(lines) {
    const items = lines.map((line) => {
      const li = document.createElement("li");
      li.textContent = answerText(line);
      li.className = line.status === "error" ? "error" : line.correct === false ? "wrong" : "";
      return li;
    });
    $("lines").replaceChildren(...items);
    $("lines").hidden = false;
  }

  // The symbols as read, not finished yet ("4+33/"): an alternative of an unsure answer.
  const unfinished = (r) => r.code === "incomplete_expression";

  function showReading(readings, chosen) {
    const r = readings[chosen];
    const checked = typeof r.correct === "boolean";
    $("expression").textContent = pretty(checked ? r.expression : r.expression.replace(/=$/, ""));
    const hasValue = r.value != null;
    $("equals").hidden = !hasValue || checked;
    $("mark").hidden = !checked;
    $("mark").textContent = r.correct ? "\u2713" : `\u2717 the answer is ${r.value}`;
    $("mark").className = r.correct ? "mark right" : "mark wrong";
    // A reading with no value is one the answer changed a symbol of ("4+33/" before "4+331"),
    // or one that divides by zero: say which.
    $("value").textContent = checked ? "" : hasValue ? String(r.value) : unfinished(r) ? "\u2026 not finished" : "has no value";
    const decimal = hasValue && r.decimal != null ? String(r.decimal) : "";
    // The server rounds non-terminating decimals to 12 places.
    const rounded = (decimal.split(".")[1] || "").length >= 12;
    $("decimal").textContent =
      !checked && decimal && decimal !== String(r.value) ? `${rounded ? "\u2248" : "="} ${decimal}` : "";
    $("answer").hidden = false;
    const choices = readings.flatMap((other, i) => {
      if (i === chosen) return [];
      const b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      const tail = other.value != null ? ` = ${other.value}` : unfinished(other) ? " \u2026" : "";
      b.textContent = pretty(other.expression) + tail;
      if (typeof other.confidence === "number") b.title = `${Math.round(other.confidence * 100)}% likely`;
      b.addEventListener("click", () => showReading(readings, i));
      return [b];
    });
    $("choices").replaceChildren(...choices);
    $("alternatives").hidden = choices.length === 0;
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

  function clearResult() {
    boxes.replaceChildren();
    $("answer").hidden = true;
    $("lines").hidden = true;
    $("lines").replaceChildren();
    $("partial").hidden = true;
    $("partial").textContent = "";
    $("alternatives").hidden = true;
    $("choices").replaceChildren();
    $("warnings").replaceChildren();
    $("error").hidden = true;
    $("error").textContent = "";
    showStatus("");
  }

  function showStatus(text) {
    $("status").textContent = text;
  }

  function showError(text) {
    $("answer").hidden = true;
    $("lines").hidden = true;
    $("lines").replaceChildren();
    $("partial").hidden = true;
    $("alternatives").hidden = true;
    $("error").textContent = text;
    $("error").hidden = false;
    showStatus("");
  }

  setSize(...DEFAULT_SIZE);
  redraw();
})();
