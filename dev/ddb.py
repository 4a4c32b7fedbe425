"""DynamoDB on the local moto server, for the poller's tests and the demo.

Run with the dev venv's Python (dev/moto start installs it): .dev/venv/bin/python dev/ddb.py ...

  create  --table T                      a table keyed by productId (S), stream NEW_AND_OLD_IMAGES
                                         (an existing table of that name is deleted first)
  drop    --table T                      delete the table
  apply   --table T FILE|-               JSON lines: {"op":"put","item":{..}},
                                         {"op":"update","key":{..},"set":{NAME:VALUE},"remove":[NAME]},
                                         {"op":"delete","key":{..}}; values in DynamoDB JSON
  compare --table T --index I [--wait S] does OpenSearch hold exactly the table? One line per
                                         difference; exit 0 when equal, 1 when not
  search  --index I --query TEXT         a full-text search; prints the hits
  workload --seed S --ops N --keys K --poison P
                                         print a random workload (apply's JSON lines): puts,
                                         updates, deletes and TTL-style deletes, a tenth of the
                                         keys taking half the operations; P puts on keys poison-I
                                         whose price is a string (an index mapping price as double
                                         refuses them)
  queue   --name Q                       create an SQS queue (a dead-letter queue); prints its URL
  receive --queue URL                    print the queue's message bodies, one a line

moto at MOTO_URL (default http://127.0.0.1:5055), OpenSearch at OPENSEARCH_URL (default
http://127.0.0.1:9200). compare converts items to documents independently of stream2search:
numbers compare as decimals, sets as sorted lists, binary as base64.
"""

import argparse
import base64
import json
import os
import sys
import time
import urllib.request
from decimal import Decimal

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
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    print(c.describe_table(TableName=args.table)["Table"]["LatestStreamArn"])


def drop(args):
    c = client()
    try:
        c.delete_table(TableName=args.table)
    except c.exceptions.ResourceNotFoundException:
        pass


def apply(args):
    c = client()
    lines = sys.stdin if args.file == "-" else open(args.file)
    n = 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        op = json.loads(line)
        if op["op"] == "put":
            c.put_item(TableName=args.table, Item={k: ddb_value(v) for k, v in op["item"].items()})
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
                TableName=args.table,
                Key={k: ddb_value(v) for k, v in op["key"].items()},
                UpdateExpression=expr.strip(),
                ExpressionAttributeNames=names,
            )
            if values:
                kwargs["ExpressionAttributeValues"] = values
            c.update_item(**kwargs)
        elif op["op"] == "delete":
            c.delete_item(TableName=args.table, Key={k: ddb_value(v) for k, v in op["key"].items()})
        else:
            sys.exit(f"unknown op {op['op']!r}")
        n += 1
    print(f"applied {n} operations to {args.table}")


def document(v):
    """A boto3 attribute value → the document value stream2search should write."""
    (t, x), = v.items()
    if t == "S":
        return x
    if t == "N":
        return Decimal(x)
    if t == "B":
        return base64.b64encode(bytes(x)).decode()
    if t == "BOOL":
        return x
    if t == "NULL":
        return None
    if t == "SS":
        return sorted(x)
    if t == "NS":
        return sorted(Decimal(n) for n in x)
    if t == "BS":
        return sorted(base64.b64encode(bytes(b)).decode() for b in x)
    if t == "M":
        return {k: document(w) for k, w in x.items()}
    if t == "L":
        return [document(w) for w in x]
    raise ValueError(f"unknown type {t}")


def normalized(doc, item):
    """Sets in the document sorted like the item's, so that order does not count."""
    out = {}
    for k, v in doc.items():
        t = next(iter(item[k])) if k in item else None
        out[k] = sorted(v) if t in ("SS", "NS", "BS") and isinstance(v, list) else v
    return out


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


def index_docs(index):
    http("POST", f"/{index}/_refresh")
    status, body = http("GET", f"/{index}/_search?size=10000&sort=_id")
    if status == 404:
        return {}
    if status != 200:
        raise RuntimeError(f"search: HTTP {status}: {body[:300]!r}")
    hits = json.loads(body, parse_float=Decimal, parse_int=Decimal)["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def differences(table, index):
    items, docs = table_items(table), index_docs(index)
    out = []
    for key in sorted(set(items) | set(docs)):
        if key not in docs:
            out.append(f"{key}: in the table, not in the index")
        elif key not in items:
            out.append(f"{key}: in the index, not in the table (stale)")
        else:
            item = items[key]
            want = {k: document(v) for k, v in item.items()}
            got = normalized(docs[key], item)
            if want != got:
                out.append(f"{key}: table {want} != index {got}")
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
            return 1
        time.sleep(0.5)


def search(args):
    q = {"query": {"multi_match": {"query": args.query, "fields": ["*"], "lenient": True}}}
    status, body = http("POST", f"/{args.index}/_search", json.dumps(q).encode())
    if status != 200:
        sys.exit(f"search: HTTP {status}: {body[:300]!r}")
    hits = json.loads(body, parse_float=Decimal, parse_int=Decimal)["hits"]["hits"]
    print(f'search "{args.query}": {len(hits)} hits')
    for h in hits:
        print(f"  {h['_score']:.3f} {h['_id']} {exact(h['_source'])}")


def exact(v):
    """JSON text with numbers exactly as OpenSearch returned them."""
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{exact(w)}" for k, w in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(exact(w) for w in v) + "]"
    if isinstance(v, Decimal):
        return str(v)
    return json.dumps(v)


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


def workload(args):
    import random
    rnd = random.Random(args.seed)
    keys = [f"k-{i:04d}" for i in range(args.keys)]
    hot = keys[: max(1, args.keys // 10)]
    ops = []
    for _ in range(args.ops):
        key = {"productId": {"S": rnd.choice(hot if rnd.random() < 0.5 else keys)}}
        price = {"N": f"{rnd.randint(0, 99999)}.{rnd.randint(0, 99):02d}"}
        r = rnd.random()
        if r < 0.5:
            item = dict(key, name={"S": f"product {rnd.randint(0, 10**6)}"}, price=price)
            if rnd.random() < 0.3:
                item["tags"] = {"SS": rnd.sample(["a", "b", "c", "d"], rnd.randint(1, 3))}
            if rnd.random() < 0.2:
                item["expiresAt"] = {"N": str(rnd.randint(1, 10**9))}
            ops.append({"op": "put", "item": item})
        elif r < 0.75:
            op = {"op": "update", "key": key, "set": {"price": price}}
            if rnd.random() < 0.3:
                op["remove"] = ["tags"]
            ops.append(op)
        elif r < 0.9:
            ops.append({"op": "delete", "key": key})
        else:
            # TTL-style: an item that expired, then its deletion.
            ops.append({"op": "put", "item": dict(key, name={"S": "expiring"}, expiresAt={"N": "1"})})
            ops.append({"op": "delete", "key": key})
    for i in range(args.poison):
        at = rnd.randint(0, len(ops))
        ops.insert(at, {"op": "put", "item": {"productId": {"S": f"poison-{i}"}, "price": {"S": "n/a"}}})
    for op in ops:
        print(json.dumps(op))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("create", "drop", "apply", "compare"):
        s = sub.add_parser(name)
        s.add_argument("--table", required=True)
        if name == "apply":
            s.add_argument("file")
        if name == "compare":
            s.add_argument("--index", required=True)
            s.add_argument("--wait", type=float, default=0)
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
                "queue": queue, "receive": receive, "workload": workload}
    sys.exit(commands[args.cmd](args))


if __name__ == "__main__":
    main()
