"""Deterministic corpus of realistic AWS identifiers and credentials, one
generator per type of the default rules (rules/aws.rules), each value set in
one of the contexts it really appears in (CLI output, config files, shell
commands, prose), and Claude-Code-shaped conversations carrying them in every
place the model reads: system text, user text, tool_result (string and
blocks), tool_use input and thinking.

    corpus(n, seed)                -> [Item(type, value, snippet)]
    conversations(items, per_conv) -> [request bodies]
    python3 corpus_gen.py [N]      -> masks the corpus with bin/maskgate and
                                      prints per-type misses (engine gaps)
"""
import random
import re
import string

REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
           "eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
           "ap-south-1", "sa-east-1", "ca-central-1", "us-gov-west-1", "me-south-1"]
REGION_ABBR = {"us-east-1": "use1", "us-east-2": "use2", "us-west-1": "usw1", "us-west-2": "usw2",
               "eu-west-1": "euw1", "eu-central-1": "euc1", "ap-southeast-1": "apse1"}
WORDS = ["orders", "billing", "checkout", "payments", "search", "analytics", "ingest", "auth",
         "catalog", "inventory", "shipping", "reports", "etl", "ml", "gateway", "frontend",
         "backend", "worker", "scheduler", "notify", "audit", "ledger", "media", "cdn", "data",
         "users", "profile", "session", "metrics", "export", "import", "sync", "batch", "api"]
ENVS = ["prod", "staging", "dev", "qa", "sandbox", "dr", "perf"]
PEOPLE = ["maria.schulz", "jdoe", "akumar", "li.wei", "o.nowak", "svc-deploy", "tmartin",
          "ci-runner", "r.garcia", "ops-bot"]
HEX = "0123456789abcdef"
UP36 = string.ascii_uppercase + string.digits
LOW36 = string.ascii_lowercase + string.digits
B64 = string.ascii_letters + string.digits + "+/"


def kebab(key):
    """RoleArn -> role-arn, as the AWS CLI spells its options."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", key).lower()


class Item:
    __slots__ = ("type", "value", "snippet")

    def __init__(self, type_, value, snippet):
        self.type, self.value, self.snippet = type_, value, snippet

    def __repr__(self):
        return "%s %r" % (self.type, self.value)


class Gen:
    """Value generators; every method returns (value, snippet)."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.accounts = [self.acct() for _ in range(40)]

    # -- pieces
    def s(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def hex(self, n):
        return self.s(HEX, n)

    def acct(self):
        return str(self.r.randint(100000000000, 999999999999))

    def pacct(self):
        return self.r.choice(self.accounts)

    def region(self):
        return self.r.choice(REGIONS)

    def name(self, parts=2):
        w = [self.r.choice(WORDS) for _ in range(parts)] + [self.r.choice(ENVS)]
        return "-".join(w) + "-" + self.s(LOW36, 4)

    def uuid(self):
        return "%s-%s-%s-%s-%s" % (self.hex(8), self.hex(4), self.hex(4), self.hex(4), self.hex(12))

    def part(self, region):
        return "aws-us-gov" if region.startswith("us-gov") else "aws"

    def pick(self, *templates):
        return self.r.choice(templates)

    def hexid(self, prefix):
        return prefix + "-0" + self.hex(16) if self.r.random() < 0.9 else prefix + "-" + self.hex(8)

    def b64_mixed(self, n):
        while True:
            v = self.s(B64, n)
            if (any(c.isupper() for c in v) and any(c.islower() for c in v)
                    and any(c.isdigit() for c in v)):
                return v

    # -- credentials
    def ACCESS_KEY(self):
        v = self.r.choice(["AKIA", "ASIA"]) + self.s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        return v, self.pick("aws_access_key_id = {v}", "export AWS_ACCESS_KEY_ID={v}",
                            '"AccessKeyId": "{v}"', "The key {v} was last used 3 days ago.",
                            "AccessKeyMetadata: UserName=deploy, AccessKeyId={v}, Status=Active")

    def UNIQUE_ID(self):
        v = self.r.choice(["AROA", "AIDA", "AGPA", "ANPA", "AIPA", "ASCA"]) + self.s(UP36, 17)
        return v, self.pick('"RoleId": "{v}"', '"UserId": "{v}"', '"PolicyId": "{v}"',
                            "principalId {v}:botocore-session-1712", "unique id {v} in the trail")

    def SECRET_KEY(self):
        v = self.b64_mixed(40)
        return v, self.pick("aws_secret_access_key = {v}", "export AWS_SECRET_ACCESS_KEY={v}",
                            '"SecretAccessKey": "{v}"', "secret_key: {v}",
                            "AWS_SECRET_ACCESS_KEY: \"{v}\"",
                            "AKIA" + self.s("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + ",{v}")

    def SESSION_TOKEN(self):
        head = self.r.choice(["IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE"])
        v = head + self.b64_mixed(self.r.choice([180, 240, 356, 420])) + self.r.choice(["", "=", "=="])
        return v, self.pick("aws_session_token = {v}", '"SessionToken": "{v}"',
                            "export AWS_SESSION_TOKEN={v}", "X-Amz-Security-Token: {v}",
                            "token {v} expires at 2026-01-02T10:00:00Z")

    def BEDROCK_KEY(self):
        if self.r.random() < 0.5:
            v = "ABSKQmVkcm9ja0FQSUtleS" + self.b64_mixed(110) + self.r.choice(["", "="])
        else:
            v = "bedrock-api-key-" + self.b64_mixed(160) + self.r.choice(["", "=="])
        return v, self.pick("export AWS_BEARER_TOKEN_BEDROCK={v}", "Authorization: Bearer {v}",
                            '"apiKey": "{v}"')

    def APPSYNC_KEY(self):
        return "da2-" + self.s(LOW36, 25) + self.r.choice("0123456789"), \
            self.pick('"x-api-key": "{v}"', "APPSYNC_API_KEY={v}")

    def MWS_TOKEN(self):
        return "amzn.mws." + self.uuid(), self.pick("MWSAuthToken={v}", '"mws_auth_token": "{v}"')

    def SIGNATURE(self):
        return self.hex(64), self.pick("&X-Amz-Date=20260101T000000Z&X-Amz-Signature={v}",
                                       "SignedHeaders=host;x-amz-date, Signature={v}")

    # -- ARNs
    def _arn(self, svc, res, region=True):
        r = self.region()
        return "arn:%s:%s:%s:%s:%s" % (self.part(r), svc, r if region else "", self.pacct(), res)

    def _arn_snip(self, key):
        return self.pick('"%s": "{v}"' % key, "--%s {v}" % kebab(key), "Resource: {v}",
                         "failed on {v} (AccessDenied)", "- {v}")

    def IAM_ROLE(self):
        path = self.pick("", "service-role/", "aws-reserved/sso.amazonaws.com/")
        return "arn:aws:iam::%s:role/%s%s" % (self.pacct(), path, self.name()), self._arn_snip("RoleArn")

    def IAM_USER(self):
        return "arn:aws:iam::%s:user/%s" % (self.pacct(), self.r.choice(PEOPLE) + self.s(LOW36, 3)), \
            self._arn_snip("UserArn")

    def IAM_POLICY(self):
        return "arn:aws:iam::%s:policy/%s" % (self.pacct(), self.name()), self._arn_snip("PolicyArn")

    def IAM_SESSION(self):
        return "arn:aws:sts::%s:assumed-role/%s/%s" % (self.pacct(), self.name(1), self.r.choice(PEOPLE)
                                                       + self.s(LOW36, 4)), \
            self.pick('"Arn": "{v}"', "User: {v} is not authorized to perform: s3:GetObject")

    def LAMBDA(self):
        return self._arn("lambda", "function:" + self.name() + self.pick("", ":live", ":3")), \
            self._arn_snip("FunctionArn")

    def ECS_TASK(self):
        return self._arn("ecs", "task/%s/%s" % (self.name(1), self.hex(32))), self._arn_snip("taskArn")

    def ECS_SERVICE(self):
        return self._arn("ecs", "service/%s/%s" % (self.name(1), self.name())), self._arn_snip("serviceArn")

    def ECS_CLUSTER(self):
        return self._arn("ecs", "cluster/" + self.name()), self._arn_snip("clusterArn")

    def ECS_TASK_DEF(self):
        return self._arn("ecs", "task-definition/%s:%d" % (self.name(), self.r.randint(1, 400))), \
            self._arn_snip("taskDefinitionArn")

    def EKS(self):
        return self._arn("eks", "cluster/" + self.name()), self._arn_snip("ClusterArn")

    def ELB(self):
        return self._arn("elasticloadbalancing", "loadbalancer/%s/%s/%s" % (
            self.r.choice(["app", "net"]), self.name(1), self.hex(16))), self._arn_snip("LoadBalancerArn")

    def TARGET_GROUP(self):
        return self._arn("elasticloadbalancing", "targetgroup/%s/%s" % (self.name(1), self.hex(16))), \
            self._arn_snip("TargetGroupArn")

    def ACM_CERT(self):
        return self._arn("acm", "certificate/" + self.uuid()), self._arn_snip("CertificateArn")

    def SECRET(self):
        return self._arn("secretsmanager", "secret:%s/%s-%s" % (self.r.choice(ENVS), self.name(1),
                                                                 self.s(string.ascii_letters, 6))), \
            self._arn_snip("SecretId")

    def SSM_PARAMETER(self):
        path = "/%s/%s/%s" % (self.r.choice(ENVS), self.name(1), self.r.choice(
            ["db-password", "api-key", "DATABASE_URL", "stripe_token", "jwt.secret"]))
        if self.r.random() < 0.5:
            r = self.region()
            return "arn:%s:ssm:%s:%s:parameter%s" % (self.part(r), r, self.pacct(), path), \
                self._arn_snip("ParameterArn")
        return path, self.pick("$ aws ssm get-parameter --name {v} --with-decryption",
                               "aws ssm put-parameter --overwrite --name '{v}' --value x",
                               "aws ssm get-parameters-by-path --path {v} --recursive")

    def DYNAMODB_TABLE(self):
        return self._arn("dynamodb", "table/" + self.name()), self._arn_snip("TableArn")

    def SNS_TOPIC(self):
        return self._arn("sns", self.name()), self._arn_snip("TopicArn")

    def SQS_QUEUE(self):
        return self._arn("sqs", self.name() + self.pick("", ".fifo")), self._arn_snip("QueueArn")

    def KINESIS(self):
        return self._arn("kinesis", "stream/" + self.name()), self._arn_snip("StreamARN")

    def STEP_FUNCTIONS(self):
        return self._arn("states", "stateMachine:" + self.name()), self._arn_snip("stateMachineArn")

    def CLOUDFORMATION(self):
        return self._arn("cloudformation", "stack/%s/%s" % (self.name(), self.uuid())), \
            self._arn_snip("StackId")

    def LOG_GROUP(self):
        return self._arn("logs", "log-group:/aws/lambda/%s%s" % (self.name(), self.pick("", ":*"))), \
            self._arn_snip("logGroupArn")

    def CLOUDTRAIL(self):
        return self._arn("cloudtrail", "trail/" + self.name()), self._arn_snip("TrailARN")

    def KMS_KEY(self):
        res = "key/" + self.uuid() if self.r.random() < 0.7 else "alias/" + self.name()
        return self._arn("kms", res), self._arn_snip("KmsKeyId")

    def APP_RUNNER(self):
        return self._arn("apprunner", "service/%s/%s" % (self.name(1), self.hex(32))), \
            self._arn_snip("ServiceArn")

    def EVENTBRIDGE(self):
        return self._arn("events", "rule/" + self.name()), self._arn_snip("RuleArn")

    def SAGEMAKER(self):
        return self._arn("sagemaker", "endpoint/" + self.name()), self._arn_snip("EndpointArn")

    def ATHENA(self):
        return self._arn("athena", "workgroup/" + self.name()), self._arn_snip("WorkGroupArn")

    def BATCH(self):
        return self._arn("batch", "job-queue/" + self.name()), self._arn_snip("jobQueueArn")

    def GLUE(self):
        return self._arn("glue", "table/%s/%s" % (self.name(1).replace("-", "_"), self.name(1).replace("-", "_"))), \
            self._arn_snip("TableArn")

    def CODECOMMIT(self):
        return self._arn("codecommit", self.name()), self._arn_snip("Arn")

    def OPENSEARCH(self):
        return self._arn(self.r.choice(["es", "aoss"]), "domain/" + self.name(1)), self._arn_snip("ARN")

    def API_GATEWAY(self):
        r = self.region()
        rid = self.s(LOW36, 10)
        if self.r.random() < 0.5:
            v = "arn:%s:apigateway:%s::/restapis/%s/stages/%s" % (self.part(r), r, rid, self.r.choice(ENVS))
        else:
            v = "arn:%s:execute-api:%s:%s:%s/*/POST/orders" % (self.part(r), r, self.pacct(), rid)
        return v, self._arn_snip("ResourceArn")

    def ORGANIZATION(self):
        while True:
            v = self.r.choice(["o-" + self.s(LOW36, 10),
                               "ou-%s-%s" % (self.s(LOW36, 4), self.s(LOW36, 8))])
            if any(c.isdigit() for c in v):
                return v, self.pick('"OrganizationId": "{v}"', '"Id": "{v}"', "--parent-id {v}",
                                    "OU {v} has 12 accounts")

    def ARN(self):
        svc, res = self.r.choice([("rds", "db:%s"), ("elasticache", "cluster:%s"),
                                  ("redshift", "cluster:%s"), ("ecr", "repository/%s"),
                                  ("ec2", "volume/vol-0" + self.hex(16) + "%.0s"),
                                  ("route53resolver", "resolver-rule/rslvr-rr-" + self.hex(17) + "%.0s"),
                                  ("ses", "identity/%s.example.com")])
        return self._arn(svc, res % self.name()), self._arn_snip("Arn")

    # -- resource ids
    def _id(self, prefix, key):
        return self.hexid(prefix), self.pick('"%s": "{v}"' % key, "--%s {v}" % kebab(key),
                                             "%s={v}" % key, "{v} is in state available",
                                             "resource {v} not found", "  %s: {v}" % key)

    def EC2(self):
        return self._id("i", "InstanceId")

    def AMI(self):
        return self._id("ami", "ImageId")

    def EBS_VOLUME(self):
        return self._id("vol", "VolumeId")

    def EBS_SNAPSHOT(self):
        return self._id("snap", "SnapshotId")

    def VPC(self):
        return self._id("vpc", "VpcId")

    def SUBNET(self):
        return self._id("subnet", "SubnetId")

    def SECURITY_GROUP(self):
        return self._id("sg", "GroupId")

    def INTERNET_GATEWAY(self):
        return self._id("igw", "InternetGatewayId")

    def NAT_GATEWAY(self):
        return self._id("nat", "NatGatewayId")

    def TRANSIT_GATEWAY(self):
        return self._id("tgw", "TransitGatewayId")

    def VPN_CONNECTION(self):
        return self._id("vpn", "VpnConnectionId")

    def ENI(self):
        return self._id("eni", "NetworkInterfaceId")

    def EIP_ALLOCATION(self):
        return self._id("eipalloc", "AllocationId")

    def EFS(self):
        return self._id("fs", "FileSystemId")

    def ROUTE_TABLE(self):
        return self._id("rtb", "RouteTableId")

    def NETWORK_ACL(self):
        return self._id("acl", "NetworkAclId")

    def VPC_ENDPOINT(self):
        return self._id("vpce", "VpcEndpointId")

    def LAUNCH_TEMPLATE(self):
        return self._id("lt", "LaunchTemplateId")

    def EC2_RESOURCE(self):
        return self._id(self.r.choice(["pcx", "dopt", "eigw", "eipassoc", "vgw", "cgw", "tgw-attach",
                                       "tgw-rtb", "rtbassoc", "fsmt", "fsap", "sir", "fleet", "key",
                                       "vpce-svc", "pl", "fl", "r", "ipam"]), "Id")

    def EC2_TASK(self):
        return "%s-%s-0%s" % (self.r.choice(["import", "export"]), self.r.choice(["ami", "snap", "i"]),
                              self.hex(16)), self.pick('"ImportTaskId": "{v}"', "--task-id {v}")

    def EC2_PRIVATE_HOST(self):
        a = (self.r.randint(1, 254), self.r.randint(0, 255), self.r.randint(1, 254))
        r = self.region()
        dom = "ec2.internal" if r == "us-east-1" else r + ".compute.internal"
        return "ip-10-%d-%d-%d.%s" % (a[0], a[1], a[2], dom), \
            self.pick('"PrivateDnsName": "{v}"', "node {v} Ready", "kubectl cordon {v}")

    def ORG_ROOT(self):
        return "r-" + self.s(LOW36, 3) + self.r.choice("0123456789"), \
            self.pick('"RootId": "{v}"', "--parent-id {v}", '"ParentId": "{v}"')

    def SSM_SESSION(self):
        return "%s-0%s" % (self.r.choice(PEOPLE), self.hex(16)), \
            self.pick('"SessionId": "{v}"', "Starting session with SessionId: {v}",
                      "session-id={v}")

    def CLOUDFRONT_DIST(self):
        while True:
            v = "E" + self.s(UP36, self.r.choice([12, 13]))
            if any(c.isdigit() for c in v):
                break
        return v, self.pick("DistributionId: {v}", "aws cloudfront create-invalidation --id {v} --paths '/*'",
                            '"Id": "{v}"', "distribution {v} deployed")

    def ROUTE53_ZONE(self):
        while True:
            v = "Z" + self.s(UP36, self.r.choice([12, 13, 20]))
            if any(c.isdigit() for c in v):
                break
        return v, self.pick('"HostedZoneId": "{v}"', '"Id": "/hostedzone/{v}"',
                            "aws route53 list-resource-record-sets --hosted-zone-id {v}",
                            "zone_id = \"{v}\"")

    def ACCOUNT(self):
        v = self.acct()
        if self.r.random() < 0.1:
            return "%s-%s-%s" % (v[:4], v[4:8], v[8:]), "AWS account number: {v}"
        return v, self.pick('"OwnerId": "{v}"', "account_id = {v}", '"Account": "{v}"',
                            "https://{v}.signin.aws.amazon.com/console", "accountId: {v}",
                            'Principal: {{"AWS": ["{v}"]}}')

    # -- hosts and URLs
    def ECR_REPO(self):
        return "%s.dkr.ecr.%s.amazonaws.com/%s" % (self.acct(), self.region(), self.name(1)), \
            self.pick("docker push {v}:latest", "image: {v}:v1.4.2", '"repositoryUri": "{v}"')

    def RDS_HOST(self):
        return "%s.%s.%s.rds.amazonaws.com" % (self.name(1), self.s(LOW36, 12), self.region()), \
            self.pick("psql -h {v} -U app", '"Address": "{v}"', "DB_HOST={v}")

    def ELB_HOST(self):
        return "%s%s-%d.%s.elb.amazonaws.com" % (self.pick("", "internal-"), self.name(1),
                                                  self.r.randint(10 ** 8, 10 ** 10), self.region()), \
            self.pick('"DNSName": "{v}"', "curl -v http://{v}/health", "CNAME {v}")

    def API_GATEWAY_HOST(self):
        return "%s.execute-api.%s.amazonaws.com" % (self.s(LOW36, 10), self.region()), \
            self.pick("https://{v}/prod/orders", "endpoint: {v}")

    def CLOUDFRONT_HOST(self):
        return "d%s.cloudfront.net" % self.s(LOW36, 13), \
            self.pick('"DomainName": "{v}"', "https://{v}/index.html", "CNAME {v}")

    def LAMBDA_URL(self):
        return "%s.lambda-url.%s.on.aws" % (self.s(LOW36, 32), self.region()), \
            self.pick("https://{v}/", "FunctionUrl: https://{v}/")

    def EC2_HOST(self):
        a = [self.r.choice([3, 13, 18, 34, 35, 44, 52, 54]), self.r.randint(0, 255),
             self.r.randint(0, 255), self.r.randint(1, 254)]
        r = self.region()
        host = "ec2-%d-%d-%d-%d.%s" % (a[0], a[1], a[2], a[3],
                                      "compute-1.amazonaws.com" if r == "us-east-1" else r + ".compute.amazonaws.com")
        return host, self.pick("ssh -i key.pem ec2-user@{v}", '"PublicDnsName": "{v}"')

    def SQS_URL(self):
        return "https://sqs.%s.amazonaws.com/%s/%s" % (self.region(), self.acct(), self.name()), \
            self.pick('"QueueUrl": "{v}"', "aws sqs receive-message --queue-url {v}")

    def AWS_HOST(self):
        r = self.region()
        v = self.r.choice([
            "%s.%s.0001.%s.cache.amazonaws.com" % (self.name(1), self.s(LOW36, 6), REGION_ABBR.get(r, "use1")),
            "search-%s-%s.%s.es.amazonaws.com" % (self.name(1), self.s(LOW36, 26), r),
            "%s.c%s.%s.redshift.amazonaws.com" % (self.name(1), self.s(LOW36, 11), r),
            "b-%d.%s.%s.c%d.kafka.%s.amazonaws.com" % (self.r.randint(1, 3), self.name(1), self.s(LOW36, 6),
                                                      self.r.randint(2, 9), r),
            "vpce-0%s-%s.ec2.%s.vpce.amazonaws.com" % (self.hex(16), self.s(LOW36, 8), r)])
        return v, self.pick("endpoint: {v}", '"Endpoint": "{v}"', "redis-cli -h {v} -p 6379")

    def S3_BUCKET(self):
        b = "%s-%s-%s" % (self.r.choice(["acme", "globex", "initech", "umbrella", "hooli"]), self.name(1),
                          self.s(LOW36, 5))
        return b, self.pick("s3://{v}/releases/app.tgz", "aws s3 cp dist/ s3://{v}/ --recursive",
                            "arn:aws:s3:::{v}/*", "https://{v}.s3.amazonaws.com/index.html",
                            "https://{v}.s3.%s.amazonaws.com/a.png" % self.region(),
                            "bucket: {v}", "aws s3api get-bucket-policy --bucket {v}",
                            "https://s3.%s.amazonaws.com/{v}/x.json" % self.region())

    def IPV4(self):
        a = [self.r.choice([3, 13, 15, 18, 34, 35, 44, 52, 54, 63, 99, 107, 184]), self.r.randint(0, 255),
             self.r.randint(0, 255), self.r.randint(1, 254)]
        return "%d.%d.%d.%d" % tuple(a), self.pick('"PublicIpAddress": "{v}"', "ssh ubuntu@{v}",
                                                    "Connection from {v} port 51122",
                                                    "inet {v}/32 scope global", "PublicIp: {v}")

    def IPV6(self):
        groups = ["2600", self.r.choice(["1f18", "1f14", "1f1c", "1f13"])] + \
            ["%x" % self.r.randint(1, 0xffff) for _ in range(6)]
        v = ":".join(groups) if self.r.random() < 0.6 else ":".join(groups[:4]) + "::" + groups[7]
        return v, self.pick('"Ipv6Address": "{v}"', "inet6 {v}/128 scope global", "ping6 {v}")


TYPES = [n for n in dir(Gen) if n.isupper()]


def corpus(n=10080, seed=20260101):
    """n distinct items, the same count for every type (round-robin)."""
    g = Gen(seed)
    items, seen = [], set()
    i = 0
    while len(items) < n:
        t = TYPES[i % len(TYPES)]
        i += 1
        v, snip = getattr(g, t)()
        if v in seen:
            continue
        seen.add(v)
        items.append(Item(t, v, snip.format(v=v)))
    # no planted value may contain another one: each must stand on its own
    return items


_TOOLS = None


def _tools():
    global _TOOLS
    if _TOOLS is None:
        from body import claude_code_body
        _TOOLS = claude_code_body(20)["tools"]
    return _TOOLS


def conversations(items, per_conv=420, seed=7):
    """Request bodies (stream flag unset) planting every item once. Slots:
    system, user text, thinking, tool_use input, tool_result string, tool_result
    blocks, assistant text."""
    r = random.Random(seed)
    out = []
    for c in range(0, len(items), per_conv):
        chunk = items[c:c + per_conv]
        slots = [[] for _ in range(7)]
        for k, it in enumerate(chunk):
            slots[k % 7].append(it.snippet)
        cmds = {"command": "aws ec2 describe-instances --filters " + " ".join(slots[3][:len(slots[3]) // 2]),
                "description": "Look up the resources",
                "args": slots[3][len(slots[3]) // 2:]}
        body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 32000,
                "system": [{"type": "text", "text": "You are Claude Code. Environment notes:\n" + "\n".join(slots[0]),
                            "cache_control": {"type": "ephemeral"}}],
                "tools": _tools(),
                "metadata": {"user_id": "user_leak_%d" % c},
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Please check these:\n" + "\n".join(slots[1])}]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "The user lists " + "; ".join(slots[2]),
                         "signature": "EqQBCkYIBxgCKkB" + "%06d" % c},
                        {"type": "tool_use", "id": "toolu_%04d" % c, "name": "Tool00", "input": cmds}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_%04d" % c,
                         "content": "$ aws resourcegroupstaggingapi get-resources\n" + "\n".join(slots[4])},
                        {"type": "tool_result", "tool_use_id": "toolu_%04db" % c,
                         "content": [{"type": "text", "text": line} for line in slots[5]]}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "Found:\n" + "\n".join(slots[6])}]},
                    {"role": "user", "content": "Now summarise the state of all of them (run %d)." % r.randint(0, 999)}]}
        out.append(body)
    return out


STRUCTURAL = {"type", "id", "tool_use_id", "name", "model", "signature", "role", "cache_control",
              "media_type", "data", "user_id"}


def strings_of(body):
    """Every free-text string of the conversation, in a fixed order."""
    out = []

    def walk(v, key=None):
        if isinstance(v, str):
            if key not in STRUCTURAL:
                out.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, dict):
            for k in sorted(v):
                walk(v[k], k)
    walk(body.get("system"))
    walk(body.get("messages"))
    return out


def _selfcheck(n):
    """Masks every snippet with the CLI (a temp store) and lists misses."""
    import os
    import secrets
    import subprocess
    import tempfile
    import collections
    here = os.path.dirname(os.path.abspath(__file__))
    cli = os.path.join(here, "..", "..", "bin", "maskgate")
    items = corpus(n)
    d = tempfile.mkdtemp()
    env = dict(os.environ, MASKGATE_DB=os.path.join(d, "m.db"), MASKGATE_DATA_KEY=secrets.token_hex(32),
               MASKGATE_MASTER_KEY="sk-" + secrets.token_hex(32))
    text = "\n".join(it.snippet for it in items)
    out = subprocess.run([cli, "mask"], input=text.encode(), env=env, capture_output=True).stdout.decode()
    miss = collections.defaultdict(list)
    for it, line in zip(items, out.split("\n")):
        if it.value in line:
            miss[it.type].append(it.snippet)
    print("%d items, %d types, %d missed" % (len(items), len(TYPES), sum(len(v) for v in miss.values())))
    for t, v in sorted(miss.items()):
        print("%-18s %d missed, e.g. %s" % (t, len(v), v[:3]))


if __name__ == "__main__":
    import sys
    _selfcheck(int(sys.argv[1]) if len(sys.argv) > 1 else 10080)
