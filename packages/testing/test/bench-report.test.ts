import { describe, expect, it } from "vitest";
import { benchReportHeader, replaceBenchSection } from "../src/index.ts";

describe("replaceBenchSection", () => {
  it("appends a section the document does not have yet", () => {
    const doc = replaceBenchSection(benchReportHeader, "events", "## Events\n\nfast");
    expect(doc).toBe(
      `${benchReportHeader.trimEnd()}\n\n<!-- bench:events:start -->\n\n## Events\n\nfast\n\n<!-- bench:events:end -->\n`,
    );
  });

  it("replaces only its own section and keeps the header and the others", () => {
    const both = replaceBenchSection(
      replaceBenchSection(benchReportHeader, "events", "## Events\n\nold"),
      "api",
      "## API\n\nold",
    );
    const next = replaceBenchSection(both, "events", "## Events\n\nnew");
    expect(next).toBe(both.replace("## Events\n\nold", "## Events\n\nnew"));
    expect(next.startsWith(benchReportHeader.trimEnd())).toBe(true);
    expect(next).toContain("## API\n\nold");
  });

  it("refuses a section whose end marker is missing", () => {
    expect(() => replaceBenchSection("<!-- bench:api:start -->\n", "api", "x")).toThrow(
      /has no <!-- bench:api:end -->/,
    );
  });
});
