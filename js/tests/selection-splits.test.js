import { describe, expect, it } from "vitest";
import { headerText } from "../clusters.js";
import { countBySplit, selectableSplits, selectionText } from "../projection/data.js";

describe("projection: selection per split", () => {
  const split = Uint8Array.from([0, 0, 1, 2, 2, 2]);

  it("counts the selected images of each split, ignoring indices out of range", () => {
    expect(countBySplit(split, [0, 1, 3, 5, 99, -1])).toEqual([2, 0, 2]);
    expect(countBySplit(split, [])).toEqual([0, 0, 0]);
  });

  it("states the total and the splits that have some", () => {
    expect(selectionText([606, 98, 186])).toBe("890 selected: 606 train · 98 val · 186 test");
    expect(selectionText([40, 0, 0])).toBe("40 selected: 40 train");
    expect(selectionText([0, 0, 0])).toBe("0 selected");
  });

  it("selects only in ticked splits that are shown", () => {
    expect(selectableSplits([true, true, true], ["train", "val", "test"])).toEqual([true, true, true]);
    expect(selectableSplits([true, true, true], ["train"])).toEqual([true, false, false]);
    // a hidden split is never selectable, even when ticked
    expect(selectableSplits([true, true, false], ["train", "test"])).toEqual([true, false, false]);
  });
});

describe("clusters: header text", () => {
  it("names what each number is", () => {
    const { lines, title } = headerText({ cluster: 3, size: 8, accuracy: 0.5, top_class: "7", top_class_share: 0.98 });
    expect(lines).toEqual(["cluster 3", "8 images", "accuracy 50 %", "98 % class 7"]);
    expect(title).toContain("98 % are class 7");
    expect(headerText({ cluster: 0, size: 1, accuracy: null, top_class: "a", top_class_share: 1 }).lines[2]).toBe("accuracy –");
  });
});
