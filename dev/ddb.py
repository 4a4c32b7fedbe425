"""DynamoDB on the local moto server, for the poller's tests and the demo.

Run with the dev venv's Python (dev/moto start installs it): .dev/venv/bin/python dev/ddb.py ...

  create  --table T [--no-stream]        a table keyed by productId (S), stream NEW_AND_OLD_IMAGES
                                         (an existing table of that name is deleted first);
                                         --no-stream: no stream (yet)
  stream  --table T                      turn the table's stream on (NEW_AND_OLD_IMAGES): it
                                         carries changes from now on; prints its ARN
  fill    --table T --count N --seed S [--poison P]
                                         put N items k-0000... (attributes of all ten types, as
                                         workload's puts) and P poison items poison-fill-I with an
                                         attribute `bad..name`, 25 at a time (BatchWriteItem)
  segment --table T --segment I --total N
                                         the keys of one parallel Scan segment, in scan order
  drop    --table T                      delete the table
  apply   --table T [--key-gap S] FILE|- JSON lines: {"op":"put","item":{..}},
                                         {"op":"update","key":{..},"set":{NAME:VALUE},"remove":[NAME]},
                                         {"op":"delete","key":{..}}; values in DynamoDB JSON.
                                         --key-gap: at least S seconds between the end of one
                                         operation on a key and the start of the next on it
                                         (other keys' operations go first meanwhile; 1.05 puts
                                         them in different seconds, so different versions)
  compare --table T --index I [--wait S] does OpenSearch hold exactly the table? One line per
                                         difference; exit 0 when equal, 3 when not
  documents --index I                    every document of the index (a point in time read page
                                         by page, no 10,000-hit cap), one line each: ID, a tab,
                                         the _source with numbers as OpenSearch returned them
  search  --index I --query TEXT         a full-text search; prints the hits
  workload --seed S --ops N --keys K --poison P
                                         print a random workload (apply's JSON lines): puts,
                                         updates, deletes and TTL-style deletes, a tenth of the
                                         keys taking half the operations, values of all ten
                                         attribute types (nested M and L, NULL, BOOL false, empty
                                         strings and binary, number texts such as 1.500 and
                                         1E+2); P puts on keys poison-I with an attribute
                                         `bad..name`, which OpenSearch refuses under any mapping
  queue   --name Q                       create an SQS queue (a dead-letter queue); prints its URL
  receive --queue URL                    print the queue's message bodies, one a line

moto at MOTO_URL (default http://127.0.0.1:5055), OpenSearch at OPENSEARCH_URL (default
http://127.0.0.1:9200). Exit status 0 on success, 3 for compare's "differs", anything else
(1 for a Python error, 2 for usage) is a failure of the script itself.

compare converts items (the DynamoDB client's AttributeValues, no deserializer) to documents by
its own rule, independently of stream2search, and compares exactly: N is its number text as
DynamoDB returned it, compared with the number's text in _source (12.50 is not 12.5); S a
string; BOOL true/false (never 1/0); NULL null; B base64 text; SS, NS and BS arrays compared as
sets (NS members by their text); M an object; L an array.
"""

import argparse
import base64
import json
import os
import sys
import time
import urllib.request

import boto3

MOTO = os.environ.get("MOTO_URL", "http://127.0.0.1:5055")
OPENSEARCH = os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200").rstrip("/")
KEY = "productId"


def client():
    return boto3.client(
        "dynamodb",
        endpoint_url=MOTO,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def ddb_value(v):
    """DynamoDB JSON (as in a file: B as base64 text) → the boto3 client's shape."""
    (t, x), = v.items()
    if t == "B":
        return {"B": base64.b64decode(x)}
    if t == "BS":
        return {"BS": [base64.b64decode(b) for b in x]}
    if t == "M":
        return {"M": {k: ddb_value(w) for k, w in x.items()}}
    if t == "L":
        return {"L": [ddb_value(w) for w in x]}
    return {t: x}


def create(args):
    c = client()
    try:
        c.delete_table(TableName=args.table)
    except c.exceptions.ResourceNotFoundException:
        pass
    c.create_table(
        TableName=args.table,
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **({} if getattr(args, "no_stream", False) else
           {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
    )
    print(c.describe_table(TableName=args.table)["Table"].get("LatestStreamArn", ""))


def stream(args):
    c = client()
    c.update_table(
        TableName=args.table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    print(c.describe_table(TableName=args.table)["Table"]["LatestStreamArn"])


def fill(args):
    import random
    rnd = random.Random(args.seed)
    items = []
    for i in range(args.count):
        item = {KEY: {"S": f"k-{i:04d}"},
                "name": {"S": f"product {i} {rnd.choice(STRINGS)}"},
                "price": {"N": rnd.choice(NUMBERS)},
                "inStock": {"BOOL": rnd.random() < 0.5}}
        if rnd.random() < 0.3:
            item["tags"] = {"SS": rnd.sample(STRINGS, rnd.randint(1, 3))}
        if rnd.random() < 0.3:
            item["sizes"] = {"NS": rnd.sample(SET_NUMBERS, rnd.randint(1, 3))}
        if rnd.random() < 0.2:
            item["thumbnail"] = {"B": base64.b64encode(bytes(rnd.randrange(256) for _ in range(4))).decode()}
        if rnd.random() < 0.3:
            item["dims"] = {"M": {"h": {"N": rnd.choice(NUMBERS)},
                                  "more": {"L": [{"NULL": True}, {"S": rnd.choice(STRINGS)}]}}}
        items.append(item)
    for i in range(args.poison):
        items.append({KEY: {"S": f"poison-fill-{i}"}, "price": {"N": "1.500"},
                      "bad..name": {"S": "refused by OpenSearch under any mapping"}})
    c = client()
    for at in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": {k: ddb_value(v) for k, v in item.items()}}}
                 for item in items[at:at + 25]]
        while batch:
            left = c.batch_write_item(RequestItems={args.table: batch}).get("UnprocessedItems", {})
            batch = left.get(args.table, [])
    print(f"put {len(items)} items into {args.table}")


def segment(args):
    c = client()
    start = None
    while True:
        kwargs = {"TableName": args.table, "Segment": args.segment, "TotalSegments": args.total}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = c.scan(**kwargs)
        for item in page["Items"]:
            print(item[KEY]["S"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return 0


def drop(args):
    c = client()
    try:
        c.delete_table(TableName=args.table)
    except c.exceptions.ResourceNotFoundException:
        pass


def apply(args):
    c = client()
    lines = sys.stdin if args.file == "-" else open(args.file)
    ops = [json.loads(line) for line in lines if line.strip()]
    n = 0
    for op in spaced(ops, args.key_gap):
        apply_one(c, args.table, op)
        n += 1
    print(f"applied {n} operations to {args.table}")


def spaced(ops, gap):
    """The operations in order, except that with gap > 0 an operation whose key was changed less
    than gap seconds ago waits while later operations on other keys go first: each key's
    operations keep their order, at least gap seconds apart (end of one to start of the next)."""
    def key(op):
        return json.dumps((op.get("item") or op.get("key"))[KEY], sort_keys=True)

    if gap <= 0:
        yield from ops
        return
    pending = [(key(op), op) for op in ops]
    last = {}  # key -> when its last operation finished
    while pending:
        now, seen, chosen, wake = time.monotonic(), set(), None, None
        for i, (k, op) in enumerate(pending):
            if k in seen:
                continue
            seen.add(k)
            ready = last.get(k, 0.0) + gap
            if ready <= now:
                chosen = i
                break
            wake = ready if wake is None else min(wake, ready)
        if chosen is None:
            time.sleep(max(0.0, wake - now))
            continue
        k, op = pending.pop(chosen)
        yield op
        last[k] = time.monotonic()


def apply_one(c, table, op):
    if op["op"] == "put":
        c.put_item(TableName=table, Item={k: ddb_value(v) for k, v in op["item"].items()})
    elif op["op"] == "update":
        names, values, sets, removes = {}, {}, [], []
        for i, (name, value) in enumerate(op.get("set", {}).items()):
            names[f"#s{i}"] = name
            values[f":s{i}"] = ddb_value(value)
            sets.append(f"#s{i} = :s{i}")
        for i, name in enumerate(op.get("remove", [])):
            names[f"#r{i}"] = name
            removes.append(f"#r{i}")
        expr = ""
        if sets:
            expr += "SET " + ", ".join(sets)
        if removes:
            expr += " REMOVE " + ", ".join(removes)
        kwargs = dict(
            TableName=table,
            Key={k: ddb_value(v) for k, v in op["key"].items()},
            UpdateExpression=expr.strip(),
            ExpressionAttributeNames=names,
        )
        if values:
            kwargs["ExpressionAttributeValues"] = values
        c.update_item(**kwargs)
    elif op["op"] == "delete":
        c.delete_item(TableName=table, Key={k: ddb_value(v) for k, v in op["key"].items()})
    else:
        sys.exit(f"unknown op {op['op']!r}")


class Num:
    """A JSON number token, kept as its text: 12.50 and 12.5 differ, and a number never equals
    a string or a boolean (Python's True == 1 would hide a BOOL written as 1)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return type(other) is Num and other.text == self.text

    def __hash__(self):
        return hash(("N", self.text))

    def __repr__(self):
        return self.text


class Set:
    """An SS, NS or BS value: equal to an array holding the same members, once each, in any
    order."""

    __slots__ = ("members",)

    def __init__(self, members):
        self.members = list(members)

    def __eq__(self, other):
        if isinstance(other, Set):
            other = other.members
        if not isinstance(other, list):
            return False
        try:
            return len(other) == len(self.members) and set(other) == set(self.members)
        except TypeError:  # an unhashable member (an object or array): not a set of scalars
            return False

    def __hash__(self):
        return hash(frozenset(self.members))

    def __repr__(self):
        return "set" + exact(self.members)


def loads(text):
    """JSON with number tokens kept as their text."""
    return json.loads(text, parse_float=Num, parse_int=Num)


def document(v):
    """A boto3 client AttributeValue → the document value stream2search should write."""
    (t, x), = v.items()
    if t == "S":
        return x
    if t == "N":
        return Num(x)
    if t == "B":
        return base64.b64encode(bytes(x)).decode()
    if t == "BOOL":
        return bool(x)
    if t == "NULL":
        return None
    if t == "SS":
        return Set(x)
    if t == "NS":
        return Set(Num(n) for n in x)
    if t == "BS":
        return Set(base64.b64encode(bytes(b)).decode() for b in x)
    if t == "M":
        return {k: document(w) for k, w in x.items()}
    if t == "L":
        return [document(w) for w in x]
    raise ValueError(f"unknown type {t}")


def same(want, got):
    """Exact equality, types included (Python alone has True == 1 and False == 0)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, dict):
        return isinstance(got, dict) and want.keys() == got.keys() and all(
            same(w, got[k]) for k, w in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(
            same(w, g) for w, g in zip(want, got))
    if isinstance(want, Set):
        return want == got
    return type(want) is type(got) and want == got


def table_items(table):
    c = client()
    items, start = {}, None
    while True:
        kwargs = {"TableName": table, "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = c.scan(**kwargs)
        for item in page["Items"]:
            items[item[KEY]["S"]] = item
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def http(method, path, body=None):
    req = urllib.request.Request(OPENSEARCH + path, method=method, data=body)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ok(status, body, what):
    if status != 200:
        raise RuntimeError(f"{what}: HTTP {status}: {body[:300]!r}")
    return loads(body)


def index_docs(index):
    """Every document of the index, {id: _source}: a point in time, read in pages sorted by
    _id with search_after (no 10,000-hit cap). A missing index holds no documents."""
    status, body = http("POST", f"/{index}/_refresh")
    if status == 404:
        return {}
    ok(status, body, "refresh")
    status, body = http("POST", f"/{index}/_search/point_in_time?keep_alive=2m")
    pit = ok(status, body, "point in time")["pit_id"]
    docs, after = {}, None
    try:
        while True:
            q = {"size": 1000, "pit": {"id": pit, "keep_alive": "2m"}, "sort": [{"_id": "asc"}],
                 "track_total_hits": False}
            if after is not None:
                q["search_after"] = after
            status, body = http("POST", "/_search", json.dumps(q).encode())
            hits = ok(status, body, "search")["hits"]["hits"]
            if not hits:
                return docs
            for h in hits:
                if h["_id"] in docs:
                    raise RuntimeError(f"search: {h['_id']} came twice")
                docs[h["_id"]] = h["_source"]
            after = hits[-1]["sort"]
    finally:
        http("DELETE", "/_search/point_in_time", json.dumps({"pit_id": [pit]}).encode())


def differences(table, index):
    items, docs = table_items(table), index_docs(index)
    out = []
    for key in sorted(set(items) | set(docs)):
        if key not in docs:
            out.append(f"{key}: in the table, not in the index")
        elif key not in items:
            out.append(f"{key}: in the index, not in the table (stale)")
        else:
            want = {k: document(v) for k, v in items[key].items()}
            if not same(want, docs[key]):
                out.append(f"{key}: table {exact(want)} != index {exact(docs[key])}")
    return len(items), out


def compare(args):
    deadline = time.monotonic() + args.wait
    while True:
        try:
            n, diffs = differences(args.table, args.index)
        except RuntimeError as e:
            # A just-created index answers 503 until its shards are up: not yet, not a verdict.
            if time.monotonic() >= deadline:
                raise
            print(f"waiting: {e}", file=sys.stderr)
            time.sleep(0.5)
            continue
        if not diffs:
            print(f"index {args.index} matches table {args.table}: {n} items")
            return 0
        if time.monotonic() >= deadline:
            for d in diffs[:50]:
                print(d)
            print(f"index {args.index} differs from table {args.table}: {len(diffs)} of {n} items")
            return 3
        time.sleep(0.5)


def documents(args):
    docs = index_docs(args.index)
    for key in sorted(docs):
        print(f"{key}\t{exact(docs[key])}")
    return 0


def search(args):
    q = {"query": {"multi_match": {"query": args.query, "fields": ["*"], "lenient": True}}}
    status, body = http("POST", f"/{args.index}/_search", json.dumps(q).encode())
    if status != 200:
        sys.exit(f"search: HTTP {status}: {body[:300]!r}")
    hits = loads(body)["hits"]["hits"]
    print(f'search "{args.query}": {len(hits)} hits')
    for h in hits:
        print(f"  {float(h['_score'].text):.3f} {h['_id']} {exact(h['_source'])}")


def exact(v):
    """JSON text with numbers exactly as OpenSearch returned them."""
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{exact(w)}" for k, w in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(exact(w) for w in v) + "]"
    if isinstance(v, (Num, Set)):
        return repr(v)
    return json.dumps(v, ensure_ascii=False)


def sqs():
    return boto3.client(
        "sqs",
        endpoint_url=MOTO,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def queue(args):
    print(sqs().create_queue(QueueName=args.name)["QueueUrl"])


def receive(args):
    q = sqs()
    while True:
        got = q.receive_message(QueueUrl=args.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return 0
        for m in messages:
            print(m["Body"])
            q.delete_message(QueueUrl=args.queue, ReceiptHandle=m["ReceiptHandle"])


# Number texts as a client may send them and moto keeps them: trailing zeros, exponents, 38
# digits. Each is valid JSON, so stream2search writes it unchanged.
NUMBERS = ["0", "-7", "12.50", "12.5", "1.500", "1E+2", "1e-5", "-0.001", "2.5E-3", "9.99E+125",
           "1E-130", "12345678901234567890123456789012345678", "-0.5", "100", "3.14159"]
# NS members: no two of the same value (DynamoDB refuses such a set).
SET_NUMBERS = ["0", "-7", "12.50", "1.500", "1E+2", "1e-5", "-0.001", "3.14159",
               "12345678901234567890123456789012345678"]
STRINGS = ["", "plain", "quote \" and backslash \\", "line\nbreak\ttab", "naïve café ☕",
           "emoji 😀", "<b>&amp;</b>", "1", "true", "null"]


def workload(args):
    import random
    rnd = random.Random(args.seed)
    keys = [f"k-{i:04d}" for i in range(args.keys)]
    hot = keys[: max(1, args.keys // 10)]

    def number():
        if rnd.random() < 0.5:
            return rnd.choice(NUMBERS)
        return f"{rnd.randint(0, 99999)}.{rnd.randint(0, 99):02d}"

    def blob():
        return base64.b64encode(bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 6)))).decode()

    def scalar():
        t = rnd.choice(["S", "N", "B", "BOOL", "NULL"])
        if t == "S":
            return {"S": rnd.choice(STRINGS)}
        if t == "N":
            return {"N": number()}
        if t == "B":
            return {"B": blob()}
        if t == "BOOL":
            return {"BOOL": rnd.random() < 0.5}
        return {"NULL": True}

    def value(depth=0):
        """Any of the ten types; M and L nest up to three levels."""
        t = rnd.choice(["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"])
        if t == "SS":
            return {"SS": rnd.sample(STRINGS, rnd.randint(1, 4))}
        if t == "NS":
            return {"NS": rnd.sample(SET_NUMBERS, rnd.randint(1, 4))}
        if t == "BS":
            return {"BS": sorted({blob() or "AA==" for _ in range(rnd.randint(1, 3))})}
        if t == "M":
            if depth >= 3:
                return {"M": {}}
            return {"M": {f"f{i}": value(depth + 1) for i in range(rnd.randint(0, 3))}}
        if t == "L":
            if depth >= 3:
                return {"L": []}
            return {"L": [value(depth + 1) for _ in range(rnd.randint(0, 3))]}
        return scalar()

    def attributes():
        a = {"name": {"S": f"product {rnd.randint(0, 10**6)} {rnd.choice(STRINGS)}"},
             "price": {"N": number()}}
        if rnd.random() < 0.5:
            a["inStock"] = {"BOOL": rnd.random() < 0.5}
        if rnd.random() < 0.3:
            a["tags"] = {"SS": rnd.sample(["a", "b", "c", "d", ""], rnd.randint(1, 3))}
        if rnd.random() < 0.3:
            a["sizes"] = {"NS": rnd.sample(SET_NUMBERS, rnd.randint(1, 3))}
        if rnd.random() < 0.2:
            a["thumbnail"] = {"B": blob()}
        if rnd.random() < 0.2:
            a["swatches"] = value() if rnd.random() < 0.2 else {"BS": sorted({blob() or "AA==" for _ in range(2)})}
        if rnd.random() < 0.3:
            a["dims"] = {"M": {"h": {"N": number()}, "w": {"N": number()},
                               "more": value(1)}}
        if rnd.random() < 0.3:
            a["history"] = {"L": [value(1) for _ in range(rnd.randint(0, 4))]}
        if rnd.random() < 0.1:
            a["gone"] = {"NULL": True}
        if rnd.random() < 0.2:
            a["expiresAt"] = {"N": str(rnd.randint(1, 10**9))}
        return a

    optional = ["inStock", "tags", "sizes", "thumbnail", "swatches", "dims", "history", "gone",
                "extra"]
    ops = []
    for _ in range(args.ops):
        key = {"productId": {"S": rnd.choice(hot if rnd.random() < 0.5 else keys)}}
        r = rnd.random()
        if r < 0.5:
            ops.append({"op": "put", "item": dict(key, **attributes())})
        elif r < 0.75:
            op = {"op": "update", "key": key, "set": {"price": {"N": number()}}}
            if rnd.random() < 0.5:
                op["set"][rnd.choice(optional)] = value()
            if rnd.random() < 0.3:
                op["remove"] = [n for n in rnd.sample(optional, 2) if n not in op["set"]]
            ops.append(op)
        elif r < 0.9:
            ops.append({"op": "delete", "key": key})
        else:
            # TTL-style: an item that expired, then its deletion.
            ops.append({"op": "put", "item": dict(key, name={"S": "expiring"}, expiresAt={"N": "1"})})
            ops.append({"op": "delete", "key": key})
    for i in range(args.poison):
        at = rnd.randint(0, len(ops))
        ops.insert(at, {"op": "put", "item": {"productId": {"S": f"poison-{i}"}, "price": {"S": "n/a"},
                                              "bad..name": {"S": "refused by OpenSearch under any mapping"}}})
    for op in ops:
        print(json.dumps(op))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("create", "drop", "apply", "compare"):
        s = sub.add_parser(name)
        s.add_argument("--table", required=True)
        if name == "create":
            s.add_argument("--no-stream", action="store_true")
        if name == "apply":
            s.add_argument("file")
            s.add_argument("--key-gap", type=float, default=0)
        if name == "compare":
            s.add_argument("--index", required=True)
            s.add_argument("--wait", type=float, default=0)
    s = sub.add_parser("stream")
    s.add_argument("--table", required=True)
    s = sub.add_parser("fill")
    s.add_argument("--table", required=True)
    for name in ("count", "seed"):
        s.add_argument(f"--{name}", type=int, required=True)
    s.add_argument("--poison", type=int, default=0)
    s = sub.add_parser("segment")
    s.add_argument("--table", required=True)
    for name in ("segment", "total"):
        s.add_argument(f"--{name}", type=int, required=True)
    s = sub.add_parser("documents")
    s.add_argument("--index", required=True)
    s = sub.add_parser("search")
    s.add_argument("--index", required=True)
    s.add_argument("--query", required=True)
    s = sub.add_parser("workload")
    for name in ("seed", "ops", "keys", "poison"):
        s.add_argument(f"--{name}", type=int, required=True)
    s = sub.add_parser("queue")
    s.add_argument("--name", required=True)
    s = sub.add_parser("receive")
    s.add_argument("--queue", required=True)
    args = p.parse_args()
    commands = {"create": create, "drop": drop, "apply": apply, "compare": compare, "search": search,
                "queue": queue, "receive": receive, "workload": workload, "documents": documents,
                "stream": stream, "fill": fill, "segment": segment}
    sys.exit(commands[args.cmd](args))


if __name__ == "__main__":
    main()
