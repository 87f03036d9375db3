// The data <-> screen transform of a 2-D view: fit, zoom about a point, pan.
// Screen y grows downwards; data y grows upwards.

export class ViewTransform {
  constructor(width = 1, height = 1) {
    this.width = width;
    this.height = height;
    this.cx = 0; // data coordinates of the screen centre
    this.cy = 0;
    this.scale = 1; // screen pixels per data unit
  }

  /** Fit the bounds [minX, minY, maxX, maxY] into the view with a margin (fraction). */
  fit([minX, minY, maxX, maxY], margin = 0.05) {
    const w = Math.max(maxX - minX, 1e-9), h = Math.max(maxY - minY, 1e-9);
    this.cx = (minX + maxX) / 2;
    this.cy = (minY + maxY) / 2;
    this.scale = Math.min(this.width / w, this.height / h) * (1 - 2 * margin);
    return this;
  }

  resize(width, height) {
    this.width = width;
    this.height = height;
  }

  toScreen(x, y) {
    return [this.width / 2 + (x - this.cx) * this.scale, this.height / 2 - (y - this.cy) * this.scale];
  }

  toData(sx, sy) {
    return [this.cx + (sx - this.width / 2) / this.scale, this.cy - (sy - this.height / 2) / this.scale];
  }

  /** Multiply the scale by `factor`, keeping the data point under (sx, sy) fixed. */
  zoomAt(sx, sy, factor) {
    const [dx, dy] = this.toData(sx, sy);
    this.scale *= factor;
    const [nx, ny] = this.toData(sx, sy);
    this.cx += dx - nx;
    this.cy += dy - ny;
  }

  /** Move the view by a screen-space drag of (dx, dy) pixels. */
  panBy(dx, dy) {
    this.cx -= dx / this.scale;
    this.cy += dy / this.scale;
  }

  /** Visible data range [x0, x1, y0, y1]. */
  dataBox() {
    const [x0, y1] = this.toData(0, 0);
    const [x1, y0] = this.toData(this.width, this.height);
    return [x0, x1, y0, y1];
  }

  /** Column-major 3x3 matrix mapping data coordinates to WebGL clip space. */
  clipMatrix() {
    const sx = (2 * this.scale) / this.width;
    const sy = (2 * this.scale) / this.height;
    return new Float32Array([sx, 0, 0, 0, sy, 0, -this.cx * sx, -this.cy * sy, 1]);
  }
}

/** [minX, minY, maxX, maxY] of the points (ignoring NaN); a unit box when empty. */
export function bounds(xs, ys) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  if (minX === Infinity) return [-1, -1, 1, 1];
  return [minX, minY, maxX, maxY];
}
