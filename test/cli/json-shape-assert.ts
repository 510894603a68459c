import { expect } from "vitest";
import { shapeProblems, type JsonShape } from "../../cli/json-shape";
import { JSON_SHAPES, type ShapedCommand } from "../../cli/json-shapes";

/**
 * Parses a command's `--json` output and asserts it has the shape cli/json-shapes.ts declares
 * (the one its --help and the docs show); returns the document.
 */
export function expectJsonShape<C extends ShapedCommand>(command: C, variant: keyof (typeof JSON_SHAPES)[C] & string, stdout: string): any {
  const document = JSON.parse(stdout);
  expect(shapeProblems(JSON_SHAPES[command][variant] as JsonShape, document), `gpk ${command} ${variant} --json against cli/json-shapes.ts`).toEqual([]);
  return document;
}
