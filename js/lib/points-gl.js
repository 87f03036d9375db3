// Point renderers: WebGL2 (one draw call for every point) with a Canvas2D fallback.
// Each point has a position, a fill RGBA (alpha 0 hides it) and a stroke RGB whose alpha byte is
// the glyph: 0 circle (correct), 255 cross (wrong).

const VERT = `#version 300 es
in vec2 a_pos;
in vec4 a_fill;
in vec4 a_stroke;
uniform mat3 u_matrix;
uniform float u_size;
out vec4 v_fill;
out vec4 v_stroke;
void main() {
  vec3 p = u_matrix * vec3(a_pos, 1.0);
  gl_Position = vec4(p.xy, 0.0, 1.0);
  gl_PointSize = a_fill.a > 0.0 ? u_size : 0.0;
  v_fill = a_fill;
  v_stroke = a_stroke;
}`;

// No `discard`: with software GL (SwiftShader, no GPU) a shader that discards drew 10^6 points
// about 2x slower (4 px points, 850x600: 2.2 s vs 1.0 s median under load 8-9). A fragment outside
// the glyph writes alpha 0 instead, which the blending (always on: SRC_ALPHA, ONE_MINUS_SRC_ALPHA,
// colour and alpha alike) leaves as nothing: the same pixels.
const FRAG = `#version 300 es
precision highp float; // same precision as the vertex shader: u_size is shared
in vec4 v_fill;
in vec4 v_stroke;
uniform float u_size;
out vec4 color;
void main() {
  color = vec4(0.0);
  if (v_fill.a <= 0.0) return;
  vec2 p = gl_PointCoord * 2.0 - 1.0;
  float sw = max(3.0 / u_size, 0.3);
  if (v_stroke.a < 0.5) {
    float r = length(p);
    if (r > 1.0) return;
    float edge = clamp((1.0 - r) * u_size * 0.5, 0.0, 1.0); // a soft rim one pixel wide
    color = vec4(r > 1.0 - sw ? v_stroke.rgb : v_fill.rgb, v_fill.a * edge);
  } else {
    float d = min(abs(p.x - p.y), abs(p.x + p.y)) * 0.7071;
    if (d > 0.4 || max(abs(p.x), abs(p.y)) > 0.98) return;
    color = vec4(d > 0.4 - sw * 0.6 ? v_stroke.rgb : v_fill.rgb, v_fill.a);
  }
}`;

function compile(gl, type, src) {
  const s = gl.createShader(type);
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) || "shader error");
  return s;
}

class WebGLPoints {
  constructor(canvas, gl) {
    this.kind = "webgl2";
    this.canvas = canvas;
    this.gl = gl;
    const prog = gl.createProgram();
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VERT));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog) || "link error");
    this.prog = prog;
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    this.buffers = {};
    for (const [name, size, type, norm] of [
      ["a_pos", 2, gl.FLOAT, false],
      ["a_fill", 4, gl.UNSIGNED_BYTE, true],
      ["a_stroke", 4, gl.UNSIGNED_BYTE, true],
    ]) {
      const loc = gl.getAttribLocation(prog, name);
      const buf = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, size, type, norm, 0, 0);
      this.buffers[name] = buf;
    }
    this.uMatrix = gl.getUniformLocation(prog, "u_matrix");
    this.uSize = gl.getUniformLocation(prog, "u_size");
    this.count = 0;
  }

  setPositions(xy) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.a_pos);
    gl.bufferData(gl.ARRAY_BUFFER, xy, gl.DYNAMIC_DRAW);
    this.count = xy.length / 2;
  }

  setColors(fill, stroke) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.a_fill);
    gl.bufferData(gl.ARRAY_BUFFER, fill, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.a_stroke);
    gl.bufferData(gl.ARRAY_BUFFER, stroke, gl.DYNAMIC_DRAW);
  }

  draw(view, sizeCss, dpr) {
    const gl = this.gl;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(1, 1, 1, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!this.count) return;
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.prog);
    gl.bindVertexArray(this.vao);
    gl.uniformMatrix3fv(this.uMatrix, false, view.clipMatrix());
    gl.uniform1f(this.uSize, sizeCss * dpr);
    gl.drawArrays(gl.POINTS, 0, this.count);
  }

  destroy() {
    const ext = this.gl.getExtension("WEBGL_lose_context");
    if (ext) ext.loseContext();
  }
}

class CanvasPoints {
  constructor(canvas) {
    this.kind = "canvas2d";
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.xy = new Float32Array(0);
    this.fill = new Uint8Array(0);
    this.stroke = new Uint8Array(0);
  }

  setPositions(xy) {
    this.xy = xy;
  }

  setColors(fill, stroke) {
    this.fill = fill;
    this.stroke = stroke;
  }

  draw(view, sizeCss, dpr) {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const r = sizeCss / 2;
    const n = this.xy.length / 2;
    ctx.lineWidth = Math.max(1, sizeCss * 0.15);
    for (let i = 0; i < n; i++) {
      const a = this.fill[4 * i + 3];
      if (!a) continue;
      const [sx, sy] = view.toScreen(this.xy[2 * i], this.xy[2 * i + 1]);
      if (sx < -r || sy < -r || sx > view.width + r || sy > view.height + r) continue;
      ctx.globalAlpha = a / 255;
      ctx.fillStyle = `rgb(${this.fill[4 * i]},${this.fill[4 * i + 1]},${this.fill[4 * i + 2]})`;
      ctx.strokeStyle = `rgb(${this.stroke[4 * i]},${this.stroke[4 * i + 1]},${this.stroke[4 * i + 2]})`;
      ctx.beginPath();
      if (this.stroke[4 * i + 3] < 128) {
        ctx.arc(sx, sy, r * 0.85, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      } else {
        ctx.moveTo(sx - r * 0.7, sy - r * 0.7);
        ctx.lineTo(sx + r * 0.7, sy + r * 0.7);
        ctx.moveTo(sx + r * 0.7, sy - r * 0.7);
        ctx.lineTo(sx - r * 0.7, sy + r * 0.7);
        ctx.strokeStyle = ctx.fillStyle;
        ctx.lineWidth = Math.max(2, sizeCss * 0.3);
        ctx.stroke();
        ctx.lineWidth = Math.max(1, sizeCss * 0.15);
      }
    }
    ctx.globalAlpha = 1;
  }

  destroy() {}
}

/** A WebGL2 point renderer on `canvas`, or a Canvas2D one when WebGL2 is unavailable. */
export function createPointRenderer(canvas) {
  // No MSAA: it would smooth only the edges of each point's square, which the fragment shader
  // leaves transparent anyway (the glyphs smooth their own edges), and with software GL (SwiftShader, no GPU)
  // it made every frame at 10^5..10^6 points 2-3x slower.
  const gl = canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: false, preserveDrawingBuffer: true });
  if (gl) {
    try {
      return new WebGLPoints(canvas, gl);
    } catch (err) {
      console.warn("dashwidgets: WebGL2 setup failed, drawing with Canvas2D", err);
      // a canvas holding a WebGL context cannot give a 2-D one: swap in a fresh canvas
      const fresh = canvas.cloneNode(false);
      canvas.replaceWith(fresh);
      return new CanvasPoints(fresh);
    }
  }
  return new CanvasPoints(canvas);
}
