import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { parseChallenges, pickChallenge } from "../../src/auth/challenge.js";
import { formatScope, mergeScopes, parseScope, parseScopes, repositoryScope, scopeKey, type Scope } from "../../src/auth/scope.js";
import { ProtocolError } from "../../src/errors.js";

describe("parseChallenges", () => {
  it("parses Docker Hub's bearer challenge", () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
    assert.deepEqual(parseChallenges(header), [
      {
        scheme: "bearer",
        params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/alpine:pull" },
      },
    ]);
  });

  it("parses several challenges in one header value", () => {
    const challenges = parseChallenges('Bearer realm="a",service="b", Basic realm="c"');
    assert.deepEqual(challenges, [
      { scheme: "bearer", params: { realm: "a", service: "b" } },
      { scheme: "basic", params: { realm: "c" } },
    ]);
  });

  it("parses challenges spread over separate header values", () => {
    const challenges = parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="https://t.example/token",service="reg"']);
    assert.deepEqual(
      challenges.map((c) => c.scheme),
      ["basic", "bearer"],
    );
    assert.equal(challenges[0]?.params["realm"], "Registry Realm");
    assert.equal(challenges[1]?.params["service"], "reg");
  });

  it("keeps commas inside quoted values and unescapes backslash escapes", () => {
    const [challenge, next] = parseChallenges(
      'Bearer realm="https://t.example/token?a=1,b=2",error="say \\"hi\\", please",service=plain, Basic realm="x"',
    );
    assert.equal(challenge?.params["realm"], "https://t.example/token?a=1,b=2");
    assert.equal(challenge?.params["error"], 'say "hi", please');
    assert.equal(challenge?.params["service"], "plain");
    assert.deepEqual(next, { scheme: "basic", params: { realm: "x" } });
  });

  it("accepts any letter case in schemes and parameter names, keeping values as sent", () => {
    const [challenge] = parseChallenges('BEARER Realm="https://T.example/Token", SERVICE="Reg"');
    assert.deepEqual(challenge, { scheme: "bearer", params: { realm: "https://T.example/Token", service: "Reg" } });
  });

  it("tolerates spaces around '=' and tabs between parameters", () => {
    const [challenge] = parseChallenges('Bearer realm = "r",\tservice= s');
    assert.deepEqual(challenge?.params, { realm: "r", service: "s" });
  });

  it("holds several scopes in one scope parameter", () => {
    const [challenge] = parseChallenges(
      'Bearer realm="r",scope="repository:a/b:pull repository:c:pull,push registry:catalog:*"',
    );
    assert.deepEqual(parseScopes(challenge?.params["scope"]), [
      { type: "repository", name: "a/b", actions: ["pull"] },
      { type: "repository", name: "c", actions: ["pull", "push"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
  });

  it("keeps a token68 blob and continues with the next challenge", () => {
    const challenges = parseChallenges('Negotiate YWJjZA==, Basic realm="x"');
    assert.deepEqual(challenges, [
      { scheme: "negotiate", params: { token68: "YWJjZA==" } },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });

  it("treats a token68 with a single trailing '=' as token68, not as an empty parameter", () => {
    assert.deepEqual(parseChallenges("Negotiate YWJjZGU="), [{ scheme: "negotiate", params: { token68: "YWJjZGU=" } }]);
    assert.deepEqual(parseChallenges('Negotiate YWJjZGU=, Basic realm="x"'), [
      { scheme: "negotiate", params: { token68: "YWJjZGU=" } },
      { scheme: "basic", params: { realm: "x" } },
    ]);
  });

  it("accepts a scheme without parameters", () => {
    assert.deepEqual(parseChallenges("Basic"), [{ scheme: "basic", params: {} }]);
    assert.deepEqual(parseChallenges("Basic, Bearer realm=r"), [
      { scheme: "basic", params: {} },
      { scheme: "bearer", params: { realm: "r" } },
    ]);
  });

  it("returns nothing for an empty header", () => {
    assert.deepEqual(parseChallenges(""), []);
    assert.deepEqual(parseChallenges([]), []);
  });

  it("rejects an unterminated quoted string with ProtocolError", () => {
    assert.throws(() => parseChallenges('Bearer realm="https://t.example/token,service=x'), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.code, "PROTOCOL_ERROR");
      assert.equal(err.category, "protocol");
      return true;
    });
    assert.throws(() => parseChallenges('Bearer realm="ends with a backslash\\'), ProtocolError);
  });

  it("rejects a header that does not start with a scheme", () => {
    assert.throws(() => parseChallenges('"realm"'), ProtocolError);
  });
});

describe("pickChallenge", () => {
  it("prefers bearer over basic regardless of order", () => {
    const picked = pickChallenge(parseChallenges('Basic realm="b", Bearer realm="t"'));
    assert.equal(picked?.scheme, "bearer");
    assert.equal(picked?.params["realm"], "t");
  });

  it("falls back to basic, and to nothing for schemes it cannot answer", () => {
    assert.equal(pickChallenge(parseChallenges('Negotiate abc==, Basic realm="b"'))?.scheme, "basic");
    assert.equal(pickChallenge(parseChallenges("Negotiate abc==")), undefined);
    assert.equal(pickChallenge([]), undefined);
  });

  it("takes the first bearer challenge when there are several", () => {
    const picked = pickChallenge(parseChallenges(['Bearer realm="one"', 'Bearer realm="two"']));
    assert.equal(picked?.params["realm"], "one");
  });
});

describe("scope", () => {
  it("parses type, name and actions", () => {
    assert.deepEqual(parseScope("repository:library/alpine:pull,push"), {
      type: "repository",
      name: "library/alpine",
      actions: ["pull", "push"],
    });
    assert.deepEqual(parseScope("registry:catalog:*"), { type: "registry", name: "catalog", actions: ["*"] });
  });

  it("keeps colons inside the name (a host:port prefix)", () => {
    assert.deepEqual(parseScope("repository:localhost:5000/app:pull"), {
      type: "repository",
      name: "localhost:5000/app",
      actions: ["pull"],
    });
  });

  it("rejects text that is not type:name:actions", () => {
    assert.equal(parseScope("repository"), undefined);
    assert.equal(parseScope("repository:name"), undefined);
    assert.equal(parseScope(":name:pull"), undefined);
  });

  it("parseScopes skips garbage and handles absence", () => {
    assert.deepEqual(parseScopes(undefined), []);
    assert.deepEqual(parseScopes("  repository:a:pull   junk  "), [{ type: "repository", name: "a", actions: ["pull"] }]);
  });

  it("formatScope is the inverse of parseScope", () => {
    for (const text of ["repository:a/b:pull,push", "registry:catalog:*", "repository:localhost:5000/x:delete"]) {
      const scope = parseScope(text);
      assert.ok(scope);
      assert.equal(formatScope(scope), text);
    }
    assert.equal(formatScope(repositoryScope("x", "pull")), "repository:x:pull");
  });

  it("mergeScopes unions actions per resource, sorted", () => {
    const merged = mergeScopes(
      [repositoryScope("b", "push"), repositoryScope("a", "pull")],
      [repositoryScope("b", "pull", "push"), { type: "registry", name: "catalog", actions: ["*"] }],
    );
    assert.deepEqual(merged.map(formatScope), ["registry:catalog:*", "repository:a:pull", "repository:b:pull,push"]);
  });

  it("scopeKey: equal sets give equal keys regardless of order or duplication", () => {
    const a: Scope[] = [repositoryScope("x", "pull", "push"), repositoryScope("y", "pull")];
    const b: Scope[] = [repositoryScope("y", "pull"), repositoryScope("x", "push"), repositoryScope("x", "pull"), repositoryScope("x", "push")];
    assert.equal(scopeKey(a), scopeKey(b));
    assert.equal(scopeKey([]), "");
  });

  it("scopeKey: different sets give different keys", () => {
    assert.notEqual(scopeKey([repositoryScope("x", "pull")]), scopeKey([repositoryScope("x", "pull", "push")]));
    assert.notEqual(scopeKey([repositoryScope("x", "pull")]), scopeKey([repositoryScope("y", "pull")]));
    assert.notEqual(scopeKey([repositoryScope("x", "pull")]), scopeKey([{ type: "registry", name: "x", actions: ["pull"] }]));
  });
});
