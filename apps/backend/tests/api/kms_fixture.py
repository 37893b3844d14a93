"""Sets up moto's KMS server for tests/api/kms.rs: an IAM user allowed everything, its
access key, and a symmetric KMS key. moto checks every request's SigV4 signature after
the first three (INITIAL_NO_AUTH_ACTION_COUNT=3: the user, its policy and its access
key), so the key here is created by boto3 with the new credentials, and every request
Solace makes afterwards is verified. Prints the credentials and the key id as JSON."""

import json
import sys

import boto3

endpoint = sys.argv[1]
anonymous = dict(
    endpoint_url=endpoint,
    region_name="eu-west-1",
    aws_access_key_id="bootstrap",
    aws_secret_access_key="bootstrap",
)
iam = boto3.client("iam", **anonymous)
iam.create_user(UserName="solace")
iam.put_user_policy(
    UserName="solace",
    PolicyName="kms",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    ),
)
key = iam.create_access_key(UserName="solace")["AccessKey"]
kms = boto3.client(
    "kms",
    endpoint_url=endpoint,
    region_name="eu-west-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
key_id = kms.create_key(Description="solace master key")["KeyMetadata"]["KeyId"]
print(
    json.dumps(
        {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
            "key_id": key_id,
        }
    )
)
