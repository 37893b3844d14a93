// @vitest-environment node
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { generate, schemaUrl } from "../scripts/api-types.mjs";

describe("the API types", () => {
  it("are generated from the committed OpenAPI document (run `make api` if this fails)", async () => {
    const committed = readFileSync(schemaUrl, "utf8");
    expect(committed).toBe(await generate());
  });
});
