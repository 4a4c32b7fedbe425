"""moto's S3 and DynamoDB export, for tests/export.rs. Run with the dev venv's Python
(.dev/venv/bin/python) and MOTO_URL set.

  export BUCKET TABLE PREFIX   items (DynamoDB JSON objects, one a line) from stdin into a new
                               table keyed by productId (S), with point-in-time recovery, exported
                               to s3://BUCKET/PREFIX; prints the export's directory,
                               s3://BUCKET/PREFIX/AWSDynamoDB/<id>/
  upload BUCKET DIR PREFIX     every file under DIR to s3://BUCKET/PREFIX/<its path under DIR>

The bucket is created when missing. Exit 0 on success; anything else is a failure.
"""

import base64
import json
import os
import sys
import time

import boto3


def session(service):
    return boto3.client(
        service,
        endpoint_url=os.environ["MOTO_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def binary(value):
    """One AttributeValue as read from a file (DynamoDB JSON) → boto3's form: B and BS as bytes."""
    (kind, inner), = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(m) for m in inner]}
    if kind == "M":
        return {kind: {k: binary(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [binary(v) for v in inner]}
    return value


def bucket(s3, name):
    existing = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    if name not in existing:
        s3.create_bucket(Bucket=name)


def export(name, table, prefix):
    s3 = session("s3")
    ddb = session("dynamodb")
    bucket(s3, name)
    arn = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "productId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "productId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    ddb.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    for line in sys.stdin:
        if line.strip():
            ddb.put_item(TableName=table, Item={k: binary(v) for k, v in json.loads(line).items()})
    started = ddb.export_table_to_point_in_time(
        TableArn=arn, S3Bucket=name, S3Prefix=prefix, ExportFormat="DYNAMODB_JSON"
    )["ExportDescription"]
    for _ in range(200):
        status = ddb.describe_export(ExportArn=started["ExportArn"])["ExportDescription"]
        if status["ExportStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.05)
    if status["ExportStatus"] != "COMPLETED":
        sys.exit(f"export {status['ExportStatus']}: {status.get('FailureMessage')}")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=name, Prefix=f"{prefix}/AWSDynamoDB/").get("Contents", [])
    ]
    dirs = sorted({k.split("/data/")[0] for k in keys if "/data/" in k})
    if len(dirs) != 1:
        sys.exit(f"expected one export under {prefix}/AWSDynamoDB/, found {dirs}")
    print(f"s3://{name}/{dirs[0]}/")


def upload(name, root, prefix):
    s3 = session("s3")
    bucket(s3, name)
    for directory, _, files in os.walk(root):
        for f in files:
            path = os.path.join(directory, f)
            key = f"{prefix}/{os.path.relpath(path, root)}"
            with open(path, "rb") as body:
                s3.put_object(Bucket=name, Key=key, Body=body.read())


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"export": export, "upload": upload}[command](*args)
