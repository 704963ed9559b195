// Reads feed files with two independent npm parsers and prints, for each file,
// what each one hands an app of every item: title, link, date, enclosures and
// related links (null where the parser has no such field).
//
//   node read.mjs FILE...   ->   {"FILE": {"feedsmith": [...], "extractor": [...]}, ...}
import { readFileSync } from "node:fs";
import { parseFeed } from "feedsmith";
import { extractFromJson, extractFromXml } from "@extractus/feed-extractor";

const text = (value) => (value && typeof value === "object" ? value.value : value) ?? null;
const hrefs = (links, rel) => (links ?? []).filter((l) => (l.rel ?? "alternate") === rel).map((l) => l.href);

// feedsmith keeps each format's (and namespace's) fields apart, as they were written.
function feedsmith(source) {
  const { format, feed } = parseFeed(source);
  if (format === "rss") {
    return (feed.items ?? []).map((item) => ({
      title: text(item.title),
      link: item.link ?? null,
      date: item.pubDate ?? null,
      enclosures: (item.enclosures ?? []).map((e) => e.url),
      related: hrefs(item.atom?.links, "related"),
    }));
  }
  if (format === "atom") {
    return (feed.entries ?? []).map((entry) => ({
      title: text(entry.title),
      link: hrefs(entry.links, "alternate")[0] ?? null,
      date: entry.published ?? entry.updated ?? null,
      enclosures: hrefs(entry.links, "enclosure"),
      related: hrefs(entry.links, "related"),
    }));
  }
  return (feed.items ?? []).map((item) => ({
    title: text(item.title),
    link: item.url ?? null,
    date: item.date_published ?? null,
    enclosures: (item.attachments ?? []).map((a) => a.url),
    related: item._related ? item._related.items.map((r) => r.url) : null,
  }));
}

// feed-extractor normalises every format to one shape, as apps show a list of stories.
function extractor(path, source) {
  const options = { descriptionMaxLen: 0 };
  const result = path.endsWith(".json") ? extractFromJson(JSON.parse(source), options) : extractFromXml(source, options);
  return (result.entries ?? []).map((entry) => ({
    title: entry.title ?? null,
    link: entry.link ?? null,
    date: entry.published ?? null,
    enclosures: null,
    related: null,
  }));
}

const out = {};
for (const path of process.argv.slice(2)) {
  const source = readFileSync(path, "utf8");
  out[path] = { feedsmith: feedsmith(source), extractor: extractor(path, source) };
}
process.stdout.write(JSON.stringify(out));
