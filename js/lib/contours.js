// Iso-lines of a density grid by marching squares (for the projection's density contours).

/**
 * Line segments where the grid crosses `level`.
 * @param {ArrayLike<number>} grid row-major values, rows = ny, columns = nx
 * @param {number} nx
 * @param {number} ny
 * @param {number} level
 * @returns {number[][]} segments [x0, y0, x1, y1] in grid coordinates (column, row)
 */
export function isoSegments(grid, nx, ny, level) {
  const segs = [];
  const v = (c, r) => grid[r * nx + c];
  const lerp = (a, b) => (Math.abs(b - a) < 1e-12 ? 0.5 : (level - a) / (b - a));
  for (let r = 0; r < ny - 1; r++) {
    for (let c = 0; c < nx - 1; c++) {
      const a = v(c, r), b = v(c + 1, r), d = v(c, r + 1), e = v(c + 1, r + 1);
      const code = (a >= level ? 8 : 0) | (b >= level ? 4 : 0) | (e >= level ? 2 : 0) | (d >= level ? 1 : 0);
      if (code === 0 || code === 15) continue;
      // edge points: top (a-b), right (b-e), bottom (d-e), left (a-d)
      const top = [c + lerp(a, b), r];
      const right = [c + 1, r + lerp(b, e)];
      const bottom = [c + lerp(d, e), r + 1];
      const left = [c, r + lerp(a, d)];
      const add = (p, q) => segs.push([p[0], p[1], q[0], q[1]]);
      switch (code) {
        case 1: case 14: add(left, bottom); break;
        case 2: case 13: add(bottom, right); break;
        case 3: case 12: add(left, right); break;
        case 4: case 11: add(top, right); break;
        case 6: case 9: add(top, bottom); break;
        case 7: case 8: add(left, top); break;
        case 5: add(left, top); add(bottom, right); break;
        case 10: add(top, right); add(left, bottom); break;
        default: break;
      }
    }
  }
  return segs;
}
