// Write each JSON value read from stdin (an array) as YAML with js-yaml's dump, as an upstream
// service on Node would; prints a JSON array of the YAML texts. argv[2]: js-yaml dump options as JSON.
"use strict";
const yaml = require("js-yaml");

const options = JSON.parse(process.argv[2] || "{}");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const texts = JSON.parse(input).map((value) => yaml.dump(value, options));
  process.stdout.write(JSON.stringify(texts));
});
