// A uniform grid over screen positions for fast nearest-point lookups (hover).

export class GridIndex {
  /**
   * @param {Float32Array} sx screen x of every point (NaN for hidden points)
   * @param {Float32Array} sy screen y
   * @param {number} cell cell size in pixels
   */
  constructor(sx, sy, cell = 16) {
    this.sx = sx;
    this.sy = sy;
    this.cell = cell;
    this.cells = new Map();
    for (let i = 0; i < sx.length; i++) {
      if (Number.isNaN(sx[i]) || Number.isNaN(sy[i])) continue;
      const key = this._key(Math.floor(sx[i] / cell), Math.floor(sy[i] / cell));
      let list = this.cells.get(key);
      if (!list) this.cells.set(key, (list = []));
      list.push(i);
    }
  }

  _key(cx, cy) {
    return cx * 73856093 + cy * 19349663;
  }

  /** Index of the nearest point within `radius` pixels of (x, y), or -1. */
  nearest(x, y, radius = 8) {
    const c = this.cell;
    const r = Math.ceil(radius / c);
    const cx = Math.floor(x / c), cy = Math.floor(y / c);
    let best = -1, bestD = radius * radius;
    for (let i = cx - r; i <= cx + r; i++) {
      for (let j = cy - r; j <= cy + r; j++) {
        const list = this.cells.get(this._key(i, j));
        if (!list) continue;
        for (const k of list) {
          const dx = this.sx[k] - x, dy = this.sy[k] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD) {
            bestD = d;
            best = k;
          }
        }
      }
    }
    return best;
  }
}
