#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) from the built-in forms,
the example records and protocol messages made like the real ones. Needs the zstd program.

Run it from anywhere: python3 tests/fuzz/make_seeds.py. The bundle_file seeds come from the
bundle_content target itself (see docs/operations.md, "Fuzzing and sanitizers")."""
import base64
import hashlib
import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
UNIT = "MINUSCA-RWABATT-1"
# The built-in forms in the order FormRegistry::latestAll() gives them (by id).
FORMS = sorted(p.stem for p in (ROOT / "core" / "forms").glob("*.json"))


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, check=True, capture_output=True).stdout


def uuid(n):
    h = hashlib.sha256(str(n).encode()).hexdigest()
    return f"0192a0b0-{h[0:4]}-7{h[5:8]}-8{h[9:12]}-{h[12:24]}"


def example(form_id):
    p = ROOT / "examples" / f"{form_id}.json"
    return json.loads(p.read_text()) if p.exists() else None


def envelope(n, form_id, payload, rev=1):
    e = {"id": uuid(n), "rev": rev, "form": form_id, "fv": 1, "unit": payload.get("unit", UNIT),
         "author": "capt.uwase", "created": "2026-10-12T08:00:00.000Z", "offset": 60,
         "final": "2026-10-12T09:00:00.000Z", "payload": payload}
    if rev > 1:
        e["parent"] = rev - 1
    return e


def push(n, items):
    return {"batch": uuid(1000 + n), "items": items}


def dumps(j):
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def main():
    # form: the built-in definitions and the test suite's form with every field type.
    for f in FORMS:
        write("form", f, (ROOT / "core" / "forms" / f"{f}.json").read_bytes())
    write("form", "kitchen_sink", (ROOT / "tests" / "data" / "kitchen_sink.json").read_bytes())

    # expr: every expression of the built-in forms, and a few of the grammar's corners.
    exprs = set()

    def walk(fields):
        for fd in fields:
            for k in ("relevant", "constraint", "calculate", "required_if"):
                if isinstance(fd.get(k), str):
                    exprs.add(fd[k])
            walk(fd.get("fields", []))

    for f in FORMS:
        walk(json.loads((ROOT / "core" / "forms" / f"{f}.json").read_text())["fields"])
    exprs |= {"women / (women + men) * 100", "count(equipment.serviceable) > 1", "not flag or . >= 3",
              "ref('units', unit, 'mission')", "threshold('gap_days') + 1", "days_between(today(), date)",
              "parity_target('military', date)", "coalesce(none, 'x')", "selected(tags, 'a')", "-(1.5e3)"}
    for i, e in enumerate(sorted(exprs)):
        write("expr", f"e{i:03d}", e)

    # validate: each example record against its form, as a draft and as final, and an empty one.
    for i, f in enumerate(FORMS):
        rec = example(f)
        if rec is not None:
            write("validate", f"{f}-draft", bytes([i]) + dumps(rec).encode())
            write("validate", f"{f}-final", bytes([0x80 | i]) + dumps(rec).encode())
        write("validate", f"{f}-empty", bytes([0x80 | i]) + b"{}")
    rec = example("incident-sea")
    if rec is not None:
        write("validate", "incident-sea-final", bytes([0x80 | FORMS.index("incident")]) + dumps(rec).encode())

    # push_decode and hq_handlers: push requests of the example records (of the enrolled unit).
    items = []
    for n, f in enumerate(FORMS):
        rec = example(f)
        if rec is None:
            continue
        rec = dict(rec, unit=UNIT)
        items.append(envelope(n, f, rec))
    one = push(1, items[:1])
    many = push(2, items)
    amend = push(3, [envelope(0, items[0]["form"], items[0]["payload"], rev=2)])
    for name, p in (("one", one), ("many", many), ("amend", amend)):
        text = dumps(p).encode()
        write("push_decode", f"req-{name}-json", b"\x01" + text)
        write("push_decode", f"req-{name}-zstd", b"\x00" + zstd(text))
        write("hq_handlers", f"push-{name}", b"\x00" + text)
        write("hq_handlers", f"push-{name}-zstd", b"\x01" + zstd(text))
        write("hq_handlers", f"bundle-push-{name}", b"\x05" + text)
    answer = {"batch": one["batch"], "epoch": "5f0c1d2e3a4b", "results": [
        {"s": "stored", "q": 12}, {"s": "duplicate", "q": 3}, {"s": "conflict", "q": 4, "r": "other bytes"},
        {"s": "rejected", "r": "payload: severity: required"}], "sig": base64.b64encode(bytes(64)).decode()}
    write("push_decode", "answer", b"\x02" + dumps(answer).encode())

    # pull_decode: feed pages with a form, reference data and feedback; an enrollment code.
    form_def = json.loads((ROOT / "core" / "forms" / f"{FORMS[-1]}.json").read_text())
    page = {"epoch": "5f0c1d2e3a4b", "next": 7, "more": True, "items": [
        {"q": 5, "kind": "form", "body": form_def},
        {"q": 6, "kind": "feedback", "body": {"record": uuid(0), "rev": 1, "status": "accepted",
                                              "comment": "Merci", "by": "hq.ops"}},
        {"q": 7, "kind": "reference", "body": {"units": [{"id": UNIT, "mission": "MINUSCA"}]}}]}
    write("pull_decode", "page-json", b"\x01" + dumps(page).encode())
    write("pull_decode", "page-zstd", b"\x00" + zstd(dumps(page).encode()))
    write("pull_decode", "empty-json", b"\x01" + dumps({"epoch": "e", "next": 0, "more": False, "items": []}).encode())
    pin = base64.urlsafe_b64encode(hashlib.sha256(b"pin").digest()).decode().rstrip("=")
    write("pull_decode", "code", b"\x02" + f"OP1.ABCDEFGHIJKLMNOPQRSTUVWXYZ.{pin}".encode())

    # hq_handlers: pulls, enrollment, hello and whole requests.
    write("hq_handlers", "pull", b"\x02after=0&limit=100")
    write("hq_handlers", "bundle-pull", b"\x06after=0&limit=2")
    write("hq_handlers", "enroll", b"\x03" + dumps({"code": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "public_key":
                                                   base64.b64encode(bytes(32)).decode(), "name": "lap"}).encode())
    write("hq_handlers", "hello", b"\x04GET /v1/hello\n\n")
    write("hq_handlers", "push-epoch", b"\x04POST /v1/push\ncontent-encoding: identity\noutpost-epoch: 0\n"
          b"outpost-last-receipt: 1:" + uuid(0).encode() + b"\n\n" + dumps(one).encode())
    write("hq_handlers", "pull-bad-sig", b"\x04GET /v1/pull?after=0&limit=5\noutpost-signature: AAAA\n\n")

    # bundle_content: bundle documents with the placeholders the target fills in.
    doc = {"kind": "bundle", "bundle": uuid(2000), "device": "@device", "hq_id": "hq-fuzz",
           "made": "2026-10-12T10:00:00.000Z", "epoch": "@epoch", "last_receipt": "",
           "pushes": [{"nonce": "AAAAAAAAAAAAAAAAAAAAAA", "sig": "@sig", "push": one},
                      {"nonce": "AQAAAAAAAAAAAAAAAAAAAA", "sig": "@sig", "push": many}],
           "pull": {"after": 0, "limit": 100, "nonce": "AgAAAAAAAAAAAAAAAAAAAA", "sig": "@sig"}}
    write("bundle_content", "bundle", dumps(doc))
    write("bundle_content", "bundle-empty", dumps(dict(doc, pushes=[])))
    write("bundle_content", "bundle-other-epoch", dumps(dict(doc, epoch="0000")))

    # sealed: a sealed part's layout (one recipient, a padded body), key lists, an SEA payload.
    part = b"OPS1\x01" + bytes(range(8)) + bytes(80) + bytes(24) + bytes(256 + 16)
    write("sealed", "part-one-key", b"\x00" + part)
    write("sealed", "part-two-keys", b"\x00" + b"OPS1\x02" + bytes(2 * 88) + bytes(24) + bytes(512 + 16))
    keys = {"version": 2, "keys": [
        {"id": "0011223344556677", "name": "Officer A", "pk": base64.b64encode(bytes(32)).decode(),
         "added": "2026-11-28T04:00:00Z"},
        {"id": "8899aabbccddeeff", "name": "Officer B", "pk": base64.b64encode(bytes(range(32))).decode(),
         "added": "2026-11-28T04:00:00Z", "retired": "2026-11-29T04:00:00Z"}],
        "sig": base64.b64encode(bytes(64)).decode()}
    write("sealed", "keys-signed-here", b"\x01" + dumps(keys).encode())
    write("sealed", "keys-as-received", b"\x02" + dumps(keys).encode())
    sea = json.loads((ROOT / "examples" / "incident-sea.json").read_text())
    write("sealed", "sea-payload", b"\x03" + dumps(sea).encode())

    # receipt: HQ's receipt documents with the placeholders the target fills in (the laptop's three
    # reports are @r0, @r1, @r2).
    def answer(batch, results, epoch="@epoch"):
        return {"batch": batch, "epoch": epoch, "results": results, "sig": "@sig"}
    b1, b2 = uuid(3000), uuid(3001)
    feedback = {"q": 7, "kind": "feedback", "body": {"record": "@r0", "rev": 1, "status": "returned",
                                                      "comment": "Name the course dates", "by": "maj.okafor",
                                                      "at": "2026-10-13T09:00:00.000Z"}}
    receipt = {"kind": "receipt", "bundle": uuid(2000), "device": "@device", "hq_id": "hq-fuzz",
               "epoch": "@epoch", "bundle_epoch": "@epoch", "made": "2026-10-13T10:00:00.000Z",
               "pushes": [{"status": 200, "batch": b1, "items": [["@r0", 1], ["@r1", 1]],
                           "answer": answer(b1, [{"s": "stored", "q": 1}, {"s": "duplicate", "q": 2}])},
                          {"status": 422, "batch": b2, "items": [["@r2", 1]],
                           "answer": answer(b2, [{"s": "rejected", "r": "training-gap v1: severity: unknown"}])}],
               "pull": {"after": 0, "status": 200,
                        "answer": {"epoch": "@epoch", "next": 7, "more": False, "items": [feedback]}}}
    write("receipt", "receipt", dumps(receipt))
    write("receipt", "receipt-conflict", dumps(dict(receipt, pushes=[
        {"status": 200, "batch": b1, "items": [["@r1", 1]], "answer": answer(b1, [{"s": "conflict", "q": 4}])}])))
    write("receipt", "receipt-new-epoch", dumps(dict(receipt, epoch="epoch-restored", pushes=[
        {"status": 200, "batch": b1, "items": [["@r0", 1]],
         "answer": answer(b1, [{"s": "stored", "q": 1}], "epoch-restored")}],
        pull=dict(receipt["pull"], answer=dict(receipt["pull"]["answer"], epoch="epoch-restored")))))
    write("receipt", "receipt-failed-push", dumps(dict(receipt, pushes=[
        {"status": 503, "batch": b1, "items": [["@r0", 1]],
         "answer": {"error": "unavailable", "message": "HQ's disk is full"}}])))
    write("receipt", "receipt-pull-only", dumps(dict(receipt, pushes=[])))


if __name__ == "__main__":
    main()
