import { describe, expect, it } from "vitest";
import { columnOf, layoutNeurons, neuronLines, radius } from "../neurons.js";

const data = {
  bands: ["conv1", "conv2"],
  band: [0, 0, 0, 1, 1],
  neuron: [3, 7, 9, 0, 5],
  under: [0.9, 0.6, 0.1, 0.55, 0.7],
  well: [0.2, 0.8, 0.75, 0.52, 0.0],
};

describe("neuron panel", () => {
  it("puts a neuron in the column of the groups it reaches the threshold for", () => {
    expect(columnOf(0.9, 0.2, 0.5)).toBe("under");
    expect(columnOf(0.6, 0.8, 0.5)).toBe("both");
    expect(columnOf(0.1, 0.75, 0.5)).toBe("well");
    expect(columnOf(0.4, 0.3, 0.5)).toBe(null);
    expect(columnOf(0.5, 0.5, 0.5)).toBe("both"); // >= threshold counts
    expect(columnOf(0.6, 0.8, 0.7)).toBe("well");
  });
  it("counts columns and hides neurons as the threshold rises", () => {
    const low = layoutNeurons(data, 0.5);
    expect(low.counts).toEqual({ under: 2, both: 2, well: 1 });
    expect(low.nodes.length).toBe(5);
    const high = layoutNeurons(data, 0.8);
    expect(high.counts).toEqual({ under: 1, both: 0, well: 1 });
    expect(high.nodes.map((n) => n.i).sort()).toEqual([0, 1]);
  });
  it("stacks one band per layer top to bottom and sizes nodes by score", () => {
    const { nodes, bands, height } = layoutNeurons(data, 0.5);
    expect(bands.map((b) => b.name)).toEqual(["conv1", "conv2"]);
    expect(bands[1].y).toBeGreaterThan(bands[0].y);
    for (const n of nodes) {
      const b = bands[n.band];
      expect(n.y).toBeGreaterThan(b.y);
      expect(n.y).toBeLessThan(b.y + b.height);
    }
    expect(height).toBeGreaterThan(bands[1].y + bands[1].height - 1);
    const both = nodes.find((n) => n.i === 1);
    expect(both.col).toBe("both");
    expect(both.r).toBe(radius(0.8)); // the larger of the two scores
    expect(radius(1)).toBeGreaterThan(radius(0.5));
  });
  it("wraps a crowded column into rows, highest score first", () => {
    const n = 30;
    const many = { bands: ["l"], band: Array(n).fill(0), neuron: [...Array(n).keys()], under: [...Array(n).keys()].map((k) => 0.5 + k / 100), well: Array(n).fill(0) };
    const { nodes, bands } = layoutNeurons(many, 0.5, 10);
    expect(nodes[0].i).toBe(n - 1);
    expect(new Set(nodes.map((p) => p.y)).size).toBe(3);
    expect(bands[0].height).toBeGreaterThan(3 * 19);
  });
  it("says layer, neuron, both scores and the cluster in the tooltip", () => {
    const lines = neuronLines(data, 1, { under: 2, well: 5 }, 4);
    expect(lines[0]).toBe("layer conv1, neuron 7");
    expect(lines[1]).toContain("#2: 0.600");
    expect(lines[2]).toContain("#5: 0.800");
    expect(lines[3]).toContain("cluster 4");
    expect(neuronLines(data, 1, { under: 2, well: 5 }).length).toBe(3);
  });
});
