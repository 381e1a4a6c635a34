import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { nextLink } from "../../src/registry/pagination.js";

describe("nextLink", () => {
  it("returns a relative target as sent", () => {
    assert.equal(nextLink(['</v2/_catalog?last=b&n=2>; rel="next"']), "/v2/_catalog?last=b&n=2");
  });

  it("returns an absolute target as sent", () => {
    assert.equal(
      nextLink(['<https://registry.example/v2/app/tags/list?last=v2&n=50>; rel="next"']),
      "https://registry.example/v2/app/tags/list?last=v2&n=50",
    );
  });

  it("accepts rel unquoted, in any case, with spaces around '='", () => {
    assert.equal(nextLink(["</a>; rel=next"]), "/a");
    assert.equal(nextLink(["</a>;rel=NEXT"]), "/a");
    assert.equal(nextLink(['</a> ; REL = "Next"']), "/a");
  });

  it("finds next among several relation types in one rel", () => {
    assert.equal(nextLink(['</a>; rel="prev next"']), "/a");
    assert.equal(nextLink(['</a>; rel="next last"']), "/a");
    assert.equal(nextLink(['</a>; rel="nextish"']), undefined);
  });

  it("picks the next link among several links in one header value", () => {
    assert.equal(nextLink(['</first>; rel="first", </prev>; rel="prev", </next>; rel="next"']), "/next");
    assert.equal(nextLink(['</next>; rel="next", </last>; rel="last"']), "/next");
  });

  it("picks the next link among several header values", () => {
    assert.equal(nextLink(['</prev>; rel="prev"', '</next>; rel="next"']), "/next");
  });

  it("keeps commas that belong to the URL", () => {
    assert.equal(nextLink(['</v2/_catalog?last=a,b&n=2>; rel="next"']), "/v2/_catalog?last=a,b&n=2");
    assert.equal(nextLink(['</x?q=1,2>; rel="prev", </y?q=3,4>; rel="next"']), "/y?q=3,4");
  });

  it("finds rel after other parameters", () => {
    assert.equal(nextLink(['</a>; title="page two"; rel="next"']), "/a");
  });

  it("returns undefined when there is no next link", () => {
    assert.equal(nextLink([]), undefined);
    assert.equal(nextLink([""]), undefined);
    assert.equal(nextLink(['</a>; rel="prev"']), undefined);
    assert.equal(nextLink(["</a>"]), undefined);
    assert.equal(nextLink(['/a; rel="next"']), undefined);
  });
});
