/**
 * HCL parse and edit time against input size (see types.ts). The first case is the one that was
 * quadratic: `StructureParser.object()` copied the rest of the token array at every `{`, so 16k
 * one-line objects took 5.9 s (issue #11 item 7).
 */
import { listHclAttributes, setHclAttribute, setHclAttributeInBytes } from "../../../modules/pipeline/src/lib/hcl.js";
import type { ScalingCase } from "./types.js";

/** A unit in the shape of the shared samples (gruntwork_dry_prod_frontend_terragrunt.hcl), as a block. */
function unit(i: number): string {
  return `unit_${i} "frontend" {
  include "env" {
    path   = "\${dirname(find_in_parent_folders("common.hcl"))}/_env/frontend.hcl"
    expose = true
  }
  terraform {
    source = include.env.locals.source_base_url
  }
  mock_outputs = { listener_arns = { 80 = "arn:80", 443 = "arn:443" } } # by port
  config = <<-EOT
    replicas = \${local.replicas}
  EOT
}
`;
}

export const cases: ScalingCase[] = [
  {
    name: "hcl parse: one-line objects (was quadratic)",
    make: (size) => Array.from({ length: size }, (_, i) => `o${i} = { a = 1, b = "two", c = [3] }\n`).join(""),
    run: (text) => listHclAttributes(text, "objects.hcl"),
  },
  {
    name: "hcl parse: terragrunt units",
    make: (size) => Array.from({ length: size }, (_, i) => unit(i)).join("\n"),
    run: (text) => listHclAttributes(text, "units.hcl"),
  },
  {
    name: "hcl parse: one long list",
    make: (size) => `x = [${Array.from({ length: size }, (_, i) => `{ id = ${i}, tag = "v${i}" }`).join(", ")}]\n`,
    run: (text) => listHclAttributes(text, "list.hcl"),
  },
  {
    name: "hcl parse: heredoc with interpolations",
    make: (size) => `x = <<EOT\n${Array.from({ length: size }, (_, i) => `line ${i} \${var.v${i}} %{ if true }y%{ endif }\n`).join("")}EOT\n`,
    run: (text) => listHclAttributes(text, "heredoc.hcl"),
  },
  {
    name: "hcl edit: set image_version in a large inputs",
    make: (size) => `inputs = {\n${Array.from({ length: size }, (_, i) => `  input_${i} = "value ${i}" # note\n`).join("")}  image_version = "old"\n}\n`,
    run: (text) => setHclAttribute(text, { name: "image_version", value: '"v1.2.3"', file: "edit.hcl" }),
  },
  {
    name: "hcl edit: bytes with Latin-1 comments",
    make: (size) => `${Array.from({ length: size }, (_, i) => `# r\u00e9glage ${i}\nk${i} = ${i}\n`).join("")}image_version = "old"\n`,
    run: (latin1) => setHclAttributeInBytes(Buffer.from(latin1, "latin1"), { name: "image_version", value: '"v1.2.3"', file: "bytes.hcl" }),
  },
];
