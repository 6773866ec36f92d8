/*
 * test_rules.c - rules files and scanning: parser errors by line, admin
 * overrides and allow-values, JIT fallback, lead prefilter, boundaries,
 * overlap resolution, placeholders, and per-rule positives/negatives of
 * the default rule set.
 */
#include <stdlib.h>
#include <unistd.h>

#include "th.h"
#include "../../common/rules.c"
#include "../../common/rules_compile.c"
#include "../../common/rules_scan.c"

static struct rules *R;
static struct arena A;

/* "TYPE=value;..." of the spans masked in text (allowed spans as "-=value") */
static const char *
scan(const struct rules *r, const char *text)
{
	static char out[8192];
	struct rules_match *m;
	size_t n, i, o = 0;

	out[0] = '\0';
	arena_reset(&A);
	if (rules_scan(r, &A, text, strlen(text), &m, &n) != MG_OK)
		return "ERROR";
	for (i = 0; i < n; i++) {
		const char *t = m[i].action == RULES_ALLOW ? "-" : rules_type(r, m[i].rule);
		int w = snprintf(out + o, sizeof(out) - o, "%s%s=%.*s", i ? ";" : "", t,
		    (int)(m[i].end - m[i].start), text + m[i].start);
		if (w < 0 || (size_t)w >= sizeof(out) - o)
			break;
		o += (size_t)w;
	}
	return out;
}

static void
expect(const char *text, const char *want)
{
	const char *got = scan(R, text);
	TH_OK(strcmp(got, want) == 0, "scan %.60s -> %s%s%s", text, want,
	    strcmp(got, want) ? " GOT " : "", strcmp(got, want) ? got : "");
}

static void
test_load(void)
{
	char err[512] = "";
	struct rules *r = NULL;

	TH_OK(rules_load(NULL, &R, err, sizeof(err)) == MG_OK, "default rules load: %s",
	    R ? "ok" : err);
	TH_OK(R != NULL && rules_count(R) >= 60, "at least 60 default rules (%zu)",
	    R ? rules_count(R) : 0);
	TH_OK(R != NULL && rules_jit(R), "JIT active");
	rules_force_interpreter = 1;
	TH_OK(rules_load(NULL, &r, err, sizeof(err)) == MG_OK && !rules_jit(r),
	    "interpreter fallback works");
	if (r != NULL) {
		const char *got = scan(r, "i-0123456789abcdef0 and vpc-0a1b2c3d");
		TH_STREQ(got, "EC2=i-0123456789abcdef0;VPC=vpc-0a1b2c3d", "interpreter scans the same");
	}
	rules_free(r);
	rules_force_interpreter = 0;
}

static void
test_admin(void)
{
	char err[512] = "";
	struct rules *r = NULL;
	const char *good =
	    "# admin rules\n"
	    "allow-value = i-0123456789abcdef0\n"
	    "[aws-secret-key]\n"
	    "action = block\n"
	    "[ec2-instance]\n"
	    "priority = 55\n"
	    "[internal-ticket]\n"
	    "type = TICKET9\n"
	    "lead = OPS-\n"
	    "pattern = (?<![\\w-])OPS-\\d{4,6}(?!\\d)\n"
	    "[vpc]\n"
	    "enabled = no\n";

	TH_OK(rules_load_text(good, strlen(good), "admin.rules", &r, err, sizeof(err)) == MG_OK,
	    "admin file loads: %s", r ? "ok" : err);
	if (r == NULL)
		return;
	TH_STREQ(scan(r, "i-0123456789abcdef0 i-0123456789abcdef1"),
	    "-=i-0123456789abcdef0;EC2=i-0123456789abcdef1", "allow-value stays in clear");
	TH_STREQ(scan(r, "see OPS-12345 now"), "TICKET9=OPS-12345", "admin rule added");
	TH_STREQ(scan(r, "vpc-0a1b2c3d"), "", "admin disabled a rule");
	{
		const char *t = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
		struct rules_match *m;
		size_t n;
		arena_reset(&A);
		TH_OK(rules_scan(r, &A, t, strlen(t), &m, &n) == MG_OK && n == 1 &&
		    m[0].action == RULES_BLOCK, "override turned secret keys into block");
	}
	{
		unsigned rule;
		unsigned long num;
		size_t end;
		TH_OK(rules_placeholder_at(r, "AWS_TICKET9_001", 15, 0, &rule, &num, &end) &&
		    num == 1 && end == 15, "placeholder with a digit in the type parses");
		TH_OK(!rules_placeholder_at(r, "AWS_VPC_001", 11, 0, &rule, &num, &end),
		    "disabled rule's type is not recognised");
		TH_OK(!rules_placeholder_at(r, "AWS_SECRET_KEY_001", 18, 0, &rule, &num, &end),
		    "block rule's type is never minted, not recognised");
	}
	rules_free(r);
}

static void
bad(const char *text, const char *want_in_err)
{
	char err[512] = "";
	struct rules *r = NULL;
	enum mg_err rc = rules_load_text(text, strlen(text), "bad.rules", &r, err, sizeof(err));

	TH_OK(rc == MG_ERULES && r == NULL && strstr(err, want_in_err) != NULL,
	    "bad rules refused: want '%s' got '%s'", want_in_err, rc == MG_OK ? "(loaded)" : err);
	rules_free(r);
}

static void
test_bad_files(void)
{
	bad("[x]\ntype = FOO\nlead = ab\npattern = ab(\n", "bad.rules:4: rule [x]: pattern error");
	bad("[x]\ntype = EC2\nlead = ab\npattern = abc\n", "bad.rules:1: rule [x]: type EC2 is already used");
	bad("\n\n[x]\ntype = foo\n", "bad.rules:4: type 'foo'");
	bad("[x]\ntype = FOO_123\n", "bad.rules:2: type 'FOO_123'");
	bad("[x]\ntype = FOO\nlead = a\npattern = abc\n", "bad.rules:3: lead 'a'");
	bad("[x]\ntype = FOO\npattern = a*\n", "matches the empty string");
	bad("[x]\ntype = FOO\npattern = {{NOPE}}x\n", "undefined macro {{NOPE}}");
	bad("[x]\ntype = FOO\nvalidate = nosuch\npattern = xx\n", "bad.rules:3: validate: no validator");
	bad("type = FOO\n", "bad.rules:1: 'type' outside a [rule] section");
	bad("[x]\ntype = FOO\npattern = xx\n[x]\n", "bad.rules:4: rule [x] defined twice");
	bad("[x]\npattern = xx\n", "rule [x] has no type");
	bad("[x]\ntype = FOO\naction = mangle\npattern = xx\n", "bad.rules:3: action:");
	bad("[X Y]\n", "bad.rules:1: bad section header");
	bad("[x]\ntype = FOO\npriority = high\npattern = xx\n", "bad.rules:3: priority");
	bad("[x]\ntype = FOO\nfrobnicate = 1\npattern = xx\n", "unknown key 'frobnicate'");
	bad("just text\n", "bad.rules:1: expected 'key = value'");
}

static void
test_check_file(void)
{
	char dir[] = "/tmp/mg_rules_XXXXXX", path[256], line[512];
	FILE *f, *rep;
	int n = 0;

	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/admin.rules", dir);
	f = fopen(path, "w");
	fputs("[a]\ntype = A1\nlead = zz\npattern = zz(\n[b]\ntype = lower\n", f);
	fclose(f);
	rep = tmpfile();
	TH_OK(rules_check_file(path, NULL, rep) == MG_ERULES, "rules check finds errors");
	rewind(rep);
	while (fgets(line, sizeof(line), rep) != NULL)
		n += strstr(line, "admin.rules:") != NULL;
	fclose(rep);
	TH_OK(n >= 2, "rules check reports every bad line (%d lines)", n);
	f = fopen(path, "w");
	fputs("allow-value = 54.1.2.3\n", f);
	fclose(f);
	rep = tmpfile();
	TH_OK(rules_check_file(path, NULL, rep) == MG_OK, "rules check accepts a good file");
	fclose(rep);
	snprintf(path, sizeof(path), "%s/missing.rules", dir);
	rep = tmpfile();
	TH_OK(rules_check_file(path, NULL, rep) == MG_EIO, "rules check on a missing file");
	fclose(rep);
	{
		char err[512] = "";
		struct rules *r = NULL;
		TH_OK(rules_load(path, &r, err, sizeof(err)) == MG_ERULES &&
		    strstr(err, "MASKGATE_RULES") != NULL, "missing admin file is a startup error: %s", err);
	}
	snprintf(path, sizeof(path), "%s/admin.rules", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_resource_ids(void)
{
	expect("i-0123456789abcdef0", "EC2=i-0123456789abcdef0");
	expect("i-0a1b2c3d", "EC2=i-0a1b2c3d");
	expect("InstanceId: i-0123456789abcdef0,", "EC2=i-0123456789abcdef0");
	expect("ami-0abcdef1234567890", "AMI=ami-0abcdef1234567890");
	expect("vol-049df61146c4d7901 snap-066877671789bd71b", "EBS_VOLUME=vol-049df61146c4d7901;EBS_SNAPSHOT=snap-066877671789bd71b");
	expect("vpc-0e9801d129EXAMPLE", "");
	expect("vpc-0e9801d12a1b2c3d4", "VPC=vpc-0e9801d12a1b2c3d4");
	expect("subnet-0bb1c79de3EXAMPLE", "");
	expect("subnet-0bb1c79de3aabbcc1", "SUBNET=subnet-0bb1c79de3aabbcc1");
	expect("sg-0123456789abcdef0", "SECURITY_GROUP=sg-0123456789abcdef0");
	expect("igw-0c0a1b2c3d4e5f6a7 nat-08d48af2a8e83edfd tgw-0262a0e521EXAMPLE",
	    "INTERNET_GATEWAY=igw-0c0a1b2c3d4e5f6a7;NAT_GATEWAY=nat-08d48af2a8e83edfd");
	expect("vpn-40f41529 eni-0a1b2c3d4e5f6a7b8 eipalloc-64d5890a",
	    "VPN_CONNECTION=vpn-40f41529;ENI=eni-0a1b2c3d4e5f6a7b8;EIP_ALLOCATION=eipalloc-64d5890a");
	expect("fs-0123456789abcdef0 rtb-0a1b2c3d acl-5fb85d36 vpce-0a1b2c3d4e5f6a7b8 lt-0abcdef1234567890",
	    "EFS=fs-0123456789abcdef0;ROUTE_TABLE=rtb-0a1b2c3d;NETWORK_ACL=acl-5fb85d36;"
	    "VPC_ENDPOINT=vpce-0a1b2c3d4e5f6a7b8;LAUNCH_TEMPLATE=lt-0abcdef1234567890");
	expect("pcx-111aaa22 tgw-attach-0a1b2c3d4e5f6a7b8 r-0598c7d356eba48d7",
	    "EC2_RESOURCE=pcx-111aaa22;EC2_RESOURCE=tgw-attach-0a1b2c3d4e5f6a7b8;EC2_RESOURCE=r-0598c7d356eba48d7");
	/* boundaries: no prefix captured, no suffix leaked */
	expect("ami-0abcdef1234567890", "AMI=ami-0abcdef1234567890");
	expect("sg-0123456789abcdef0123", "");
	expect("xi-0123456789abcdef0", "");
	expect("backup-vol-0123456789abcdef0", "EBS_VOLUME=vol-0123456789abcdef0");
	expect("multi-line semi-final anti-aliasing i-need", "");
	expect("i-0123456789abcdef", "");
	expect("SessionId: john.doe-0a1b2c3d4e5f6a7b8", "SSM_SESSION=john.doe-0a1b2c3d4e5f6a7b8");
	expect("\"DistributionId\": \"E2QWRUHAPOMQZL\"", "CLOUDFRONT_DIST=E2QWRUHAPOMQZL");
	expect("aws cloudfront get-distribution --id E2QWRUHAPOMQZL", "CLOUDFRONT_DIST=E2QWRUHAPOMQZL");
	expect("\"Id\": \"/hostedzone/Z1D633PJN98FT9\"", "ROUTE53_ZONE=Z1D633PJN98FT9");
	expect("--hosted-zone-id Z1D633PJN98FT9", "ROUTE53_ZONE=Z1D633PJN98FT9");
	expect("zone ZEBRAS and ZULU", "");
}

static void
test_arns(void)
{
	expect("arn:aws:iam::123456789012:role/service-role/MyRole",
	    "IAM_ROLE=arn:aws:iam::123456789012:role/service-role/MyRole");
	expect("arn:aws-cn:iam::123456789012:user/alice", "IAM_USER=arn:aws-cn:iam::123456789012:user/alice");
	expect("arn:aws-us-gov:iam::123456789012:policy/Ops", "IAM_POLICY=arn:aws-us-gov:iam::123456789012:policy/Ops");
	expect("arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com",
	    "IAM_SESSION=arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com");
	expect("arn:aws:lambda:us-east-1:123456789012:function:my-fn:PROD",
	    "LAMBDA=arn:aws:lambda:us-east-1:123456789012:function:my-fn:PROD");
	expect("arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef",
	    "ECS_TASK=arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef");
	expect("arn:aws:ecs:eu-west-1:123456789012:service/prod/web", "ECS_SERVICE=arn:aws:ecs:eu-west-1:123456789012:service/prod/web");
	expect("arn:aws:ecs:eu-west-1:123456789012:cluster/prod", "ECS_CLUSTER=arn:aws:ecs:eu-west-1:123456789012:cluster/prod");
	expect("arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42", "ECS_TASK_DEF=arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42");
	expect("arn:aws:eks:us-west-2:123456789012:cluster/k8s-cluster", "EKS=arn:aws:eks:us-west-2:123456789012:cluster/k8s-cluster");
	expect("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/50dc6c495c0c9188",
	    "ELB=arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-alb/50dc6c495c0c9188");
	expect("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-web/73e2d6bc24d8a067",
	    "TARGET_GROUP=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-web/73e2d6bc24d8a067");
	expect("arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
	    "ACM_CERT=arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012");
	expect("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
	    "SECRET=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf");
	expect("arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/password",
	    "SSM_PARAMETER=arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/password");
	expect("arn:aws:dynamodb:us-east-1:123456789012:table/Orders", "DYNAMODB_TABLE=arn:aws:dynamodb:us-east-1:123456789012:table/Orders");
	expect("arn:aws:sns:us-east-1:123456789012:alerts", "SNS_TOPIC=arn:aws:sns:us-east-1:123456789012:alerts");
	expect("arn:aws:sqs:us-east-1:123456789012:jobs.fifo", "SQS_QUEUE=arn:aws:sqs:us-east-1:123456789012:jobs.fifo");
	expect("arn:aws:kinesis:us-east-1:123456789012:stream/clicks", "KINESIS=arn:aws:kinesis:us-east-1:123456789012:stream/clicks");
	expect("arn:aws:states:us-east-1:123456789012:stateMachine:etl", "STEP_FUNCTIONS=arn:aws:states:us-east-1:123456789012:stateMachine:etl");
	expect("arn:aws:cloudformation:us-east-1:123456789012:stack/web/8e3b0f40-0f4c-11ee-9c1a-0a1b2c3d4e5f",
	    "CLOUDFORMATION=arn:aws:cloudformation:us-east-1:123456789012:stack/web/8e3b0f40-0f4c-11ee-9c1a-0a1b2c3d4e5f");
	expect("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/my-fn:*",
	    "LOG_GROUP=arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/my-fn:*");
	expect("arn:aws:cloudtrail:us-east-1:123456789012:trail/main", "CLOUDTRAIL=arn:aws:cloudtrail:us-east-1:123456789012:trail/main");
	expect("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	    "KMS_KEY=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab");
	expect("arn:aws:apprunner:us-east-1:123456789012:service/web/8fe1e10304f84fd2b0df550fe98a71fa",
	    "APP_RUNNER=arn:aws:apprunner:us-east-1:123456789012:service/web/8fe1e10304f84fd2b0df550fe98a71fa");
	expect("arn:aws:events:us-east-1:123456789012:rule/nightly", "EVENTBRIDGE=arn:aws:events:us-east-1:123456789012:rule/nightly");
	expect("arn:aws:sagemaker:us-east-1:123456789012:endpoint/prod", "SAGEMAKER=arn:aws:sagemaker:us-east-1:123456789012:endpoint/prod");
	expect("arn:aws:athena:us-east-1:123456789012:workgroup/primary", "ATHENA=arn:aws:athena:us-east-1:123456789012:workgroup/primary");
	expect("arn:aws:batch:us-east-1:123456789012:job-queue/q", "BATCH=arn:aws:batch:us-east-1:123456789012:job-queue/q");
	expect("arn:aws:glue:us-east-1:123456789012:database/lake", "GLUE=arn:aws:glue:us-east-1:123456789012:database/lake");
	expect("arn:aws:codecommit:us-east-1:123456789012:repo", "CODECOMMIT=arn:aws:codecommit:us-east-1:123456789012:repo");
	expect("arn:aws:es:us-east-1:123456789012:domain/search", "OPENSEARCH=arn:aws:es:us-east-1:123456789012:domain/search");
	expect("arn:aws:rds:us-east-1:123456789012:db:prod-db", "ARN=arn:aws:rds:us-east-1:123456789012:db:prod-db");
	expect("arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod",
	    "API_GATEWAY=arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod");
	expect("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets",
	    "API_GATEWAY=arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets");
	expect("\"KeyId\": \"1234abcd-12ab-34cd-56ef-1234567890ab\"", "KMS_KEY=1234abcd-12ab-34cd-56ef-1234567890ab");
	expect("aws kms decrypt --key-id mrk-1234abcd12ab34cd56ef1234567890ab", "KMS_KEY=mrk-1234abcd12ab34cd56ef1234567890ab");
	expect("\"id\": \"1234abcd-12ab-34cd-56ef-1234567890ab\"", "");
	expect("o-a1b2c3d4e5 ou-ab12-cdef3456 go-ahead ou-tside", "ORGANIZATION=o-a1b2c3d4e5;ORGANIZATION=ou-ab12-cdef3456");
	expect("\"arn:aws:iam::123456789012:role/A\",", "IAM_ROLE=arn:aws:iam::123456789012:role/A");
	expect("see arn:aws:iam::123456789012:role/A.", "IAM_ROLE=arn:aws:iam::123456789012:role/A");
	expect("arn:aws:iam::aws:policy/ReadOnlyAccess", "");
	expect("arn:aws:s3:::my-data-bucket/logs/*", "S3_BUCKET=my-data-bucket");
}

static void
test_credentials(void)
{
	expect("AKIAIOSFODNN7EXAMPLE", "ACCESS_KEY=AKIAIOSFODNN7EXAMPLE");
	expect("ASIAY34FZKBOKMUTVV7A", "ACCESS_KEY=ASIAY34FZKBOKMUTVV7A");
	expect("\"UserId\": \"AROA3XFRBF535PLBIFPI4:s3-access-example\"", "UNIQUE_ID=AROA3XFRBF535PLBIFPI4");
	expect("AIDAJQABLZS4A3QDU576Q", "UNIQUE_ID=AIDAJQABLZS4A3QDU576Q");
	expect("XAKIAIOSFODNN7EXAMPLE", "");
	expect("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	    "SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	expect("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	    "SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	expect("\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
	    "SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	expect("AWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	    "SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	expect("bob,,AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	    "ACCESS_KEY=AKIAIOSFODNN7EXAMPLE;SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	/* any 40-character run is not a secret key */
	expect("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "");
	expect("commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "");
	/* under a secret name even a hex value is masked (issue 12): a false
	 * mask costs nothing there, a miss leaks a credential */
	expect("secret = 9fceb02d0ae598e95dc970b74767f19372d61af8",
	    "SECRET_KEY=9fceb02d0ae598e95dc970b74767f19372d61af8");
	{
		static char tok[600];
		snprintf(tok, sizeof(tok), "aws_session_token = IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD"
		    "6Y5jZsX3n9k2Lq8Vb7Tz1xRw4uE0cP2fHmNaJdKgOeQIgXz1ut7QhJ3bRkLm9sVnW0aPq5YcTfE8iGx2DoHbNjUqKs"
		    "ZmFrZXRva2VuZmFrZXRva2VuZmFrZXRva2Vu");
		expect(tok, "SESSION_TOKEN=IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD"
		    "6Y5jZsX3n9k2Lq8Vb7Tz1xRw4uE0cP2fHmNaJdKgOeQIgXz1ut7QhJ3bRkLm9sVnW0aPq5YcTfE8iGx2DoHbNjUqKs"
		    "ZmFrZXRva2VuZmFrZXRva2VuZmFrZXRva2Vu");
	}
}

static void
test_accounts_ips_hosts(void)
{
	expect("\"OwnerId\": \"123456789012\"", "ACCOUNT=123456789012");
	expect("\"Account\": \"210987654321\",", "ACCOUNT=210987654321");
	expect("\"recipientAccountId\": \"123456789012\"", "ACCOUNT=123456789012");
	expect("Account ID: 1234-5678-9012", "ACCOUNT=1234-5678-9012");
	expect("account_id = \"123456789012\"", "ACCOUNT=123456789012");
	expect("--owners 123456789012", "ACCOUNT=123456789012");
	expect("\"Principal\": {\"AWS\": \"123456789012\"}", "ACCOUNT=123456789012");
	expect("order 123456789012 shipped", "");
	expect("\"OwnerId\": \"000000000000\"", "");
	expect("54.239.28.85", "IPV4=54.239.28.85");
	expect("ssh ec2-user@3.91.22.17:22", "IPV4=3.91.22.17");
	expect("cidr 52.95.110.0/24.", "IPV4=52.95.110.0");
	expect("10.0.1.25 172.16.0.1 192.168.1.1 127.0.0.1 169.254.169.254 100.64.0.1 224.0.0.1", "");
	expect("192.0.2.10 198.51.100.7 203.0.113.5", "");
	expect("version 1.2.3.4 and v2.10.11.12 and 1.2.3", "");
	expect("1.2.3.4.5", "");
	expect("2600:1f18:243c:b900:8b2c:9dd1:e2b0:7f30", "IPV6=2600:1f18:243c:b900:8b2c:9dd1:e2b0:7f30");
	expect("addr 2a05:d018:1234::1/128", "IPV6=2a05:d018:1234::1");
	expect("fe80::1 ::1 fd00::5 2001:db8::1 12:30:45 aa:bb:cc:dd:ee:ff std::vector", "");
	expect("mydb.c9akciq32.us-east-1.rds.amazonaws.com:5432", "RDS_HOST=mydb.c9akciq32.us-east-1.rds.amazonaws.com");
	expect("my-alb-1234567890.us-east-1.elb.amazonaws.com", "ELB_HOST=my-alb-1234567890.us-east-1.elb.amazonaws.com");
	expect("nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com", "ELB_HOST=nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com");
	expect("https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod", "API_GATEWAY_HOST=a1b2c3d4e5.execute-api.us-east-1.amazonaws.com");
	expect("d111111abcdef8.cloudfront.net", "CLOUDFRONT_HOST=d111111abcdef8.cloudfront.net");
	expect("123456789012.dkr.ecr.us-east-1.amazonaws.com/web-app:latest", "ECR_REPO=123456789012.dkr.ecr.us-east-1.amazonaws.com/web-app");
	expect("https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "SQS_URL=https://sqs.us-east-1.amazonaws.com/123456789012/jobs");
	expect("ec2-54-12-34-56.compute-1.amazonaws.com", "EC2_HOST=ec2-54-12-34-56.compute-1.amazonaws.com");
	expect("search-logs-abc123xyz.us-east-1.es.amazonaws.com", "AWS_HOST=search-logs-abc123xyz.us-east-1.es.amazonaws.com");
	expect("ec2.us-east-1.amazonaws.com sts.amazonaws.com s3.amazonaws.com", "");
	expect("s3://my-data-bucket/path/x.csv", "S3_BUCKET=my-data-bucket");
	expect("https://my-data-bucket.s3.us-west-2.amazonaws.com/x", "S3_BUCKET=my-data-bucket");
	expect("https://s3.us-west-2.amazonaws.com/my-data-bucket/x", "S3_BUCKET=my-data-bucket");
	expect("aws s3api get-object --bucket my-data-bucket --key k", "S3_BUCKET=my-data-bucket");
	expect("\"Bucket\": \"my-data-bucket\"", "S3_BUCKET=my-data-bucket");
	expect("bucket = \"tf-state-prod\"", "S3_BUCKET=tf-state-prod");
	expect("s3://10.0.0.1/x", "");
}

static void
test_precision(void)
{
	expect("feedback changelogs k8s-cluster logs db dbs the-account owner", "");
	expect("/home/user/x /var/log/syslog ./src/main.c /prod/db/password", "");
	expect("{\"id\": \"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"}", "");
	expect("git show 9fceb02d0ae598e95dc970b74767f19372d61af8", "");
	expect("node v18.17.1, python 3.11.4, openssl 3.0.11", "");
}

static void
test_overlaps(void)
{
	/* the ARN contains an account id: the longer ARN wins, one span */
	expect("arn:aws:iam::123456789012:role/x", "IAM_ROLE=arn:aws:iam::123456789012:role/x");
	/* transitive overlap: A overlaps B, B overlaps C, A and C do not overlap:
	 * both A and C are masked. Built with an admin rule set. */
	{
		char err[512] = "";
		struct rules *r = NULL;
		const char *t =
		    "[ra]\ntype = RA\nlead = aa\npattern = aabb\npriority = 1\n"
		    "[rb]\ntype = RB\nlead = bb\npattern = bbbbcc\npriority = 1\n"
		    "[rc]\ntype = RC\nlead = cc\npattern = cc\npriority = 1\n";
		TH_OK(rules_load_text(t, strlen(t), "o.rules", &r, err, sizeof(err)) == MG_OK, "overlap rules: %s", err);
		if (r != NULL) {
			TH_STREQ(scan(r, "xx aabbbbcc yy"), "RA=aabb;RC=cc",
			    "leftmost wins; a match overlapping only the loser is kept");
			TH_STREQ(scan(r, "aabb bbbbcc"), "RA=aabb;RB=bbbbcc", "non-overlapping kept");
			TH_STREQ(scan(r, "bbbbcc"), "RB=bbbbcc", "longest wins at one start");
			rules_free(r);
		}
	}
	/* placeholders are never re-matched */
	expect("AWS_EC2_001 AWS_VPC_1000 AWS_S3_BUCKET_001", "");
	expect("s3://AWS_S3_BUCKET_001/x", "");
}

static void
test_placeholders(void)
{
	unsigned rule;
	unsigned long num;
	size_t end;
	char ph[64];

	TH_OK(rules_placeholder_at(R, "AWS_EC2_001", 11, 0, &rule, &num, &end) && num == 1 &&
	    strcmp(rules_type(R, rule), "EC2") == 0, "AWS_EC2_001");
	TH_OK(rules_placeholder_at(R, "AWS_S3_BUCKET_012 x", 19, 0, &rule, &num, &end) && num == 12 &&
	    end == 17, "AWS_S3_BUCKET_012");
	TH_OK(rules_placeholder_at(R, "AWS_IPV6_999", 12, 0, &rule, &num, &end) && num == 999, "AWS_IPV6_999");
	TH_OK(rules_placeholder_at(R, "AWS_VPC_1000", 12, 0, &rule, &num, &end) && num == 1000, "AWS_VPC_1000");
	TH_OK(rules_placeholder_at(R, "AWS_ROUTE53_ZONE_123456", 23, 0, &rule, &num, &end) && num == 123456,
	    "AWS_ROUTE53_ZONE_123456");
	TH_OK(!rules_placeholder_at(R, "AWS_EC2_0012", 12, 0, &rule, &num, &end), "AWS_EC2_0012 is none");
	TH_OK(!rules_placeholder_at(R, "AWS_EC2_01", 10, 0, &rule, &num, &end), "two digits is none");
	TH_OK(!rules_placeholder_at(R, "AWS_EC2_000", 11, 0, &rule, &num, &end), "zero is none");
	TH_OK(!rules_placeholder_at(R, "AWS_EC2_001x", 12, 0, &rule, &num, &end), "no boundary after");
	TH_OK(!rules_placeholder_at(R, "AWS_NOPE_001", 12, 0, &rule, &num, &end), "unknown type");
	rules_placeholder_at(R, "AWS_EC2_001", 11, 0, &rule, &num, &end);
	TH_OK(rules_placeholder_format(R, rule, 7, NULL, ph, sizeof(ph)) == 11 && strcmp(ph, "AWS_EC2_007") == 0, "format pads");
	TH_OK(rules_placeholder_format(R, rule, 12345, NULL, ph, sizeof(ph)) && strcmp(ph, "AWS_EC2_12345") == 0, "format >999");
	TH_OK(rules_placeholder_prefix(R, "AW", 2) && rules_placeholder_prefix(R, "AWS_E", 5) &&
	    rules_placeholder_prefix(R, "AWS_EC2_", 8) && rules_placeholder_prefix(R, "AWS_EC2_00", 10) &&
	    rules_placeholder_prefix(R, "AWS_EC2_001", 11), "prefixes");
	TH_OK(!rules_placeholder_prefix(R, "AWS_EC2_0012", 12) && !rules_placeholder_prefix(R, "AWX", 3) &&
	    !rules_placeholder_prefix(R, "AWS_QQ", 6), "non-prefixes");
	/* every type the rules mint must be unique and parse back */
	{
		size_t i, j, bad = 0;
		for (i = 0; i < rules_slots(R); i++) {
			const char *t = rules_type(R, (unsigned)i);
			if (t == NULL || rules_action(R, (unsigned)i) != RULES_MASK ||
			    !rules_enabled(R, (unsigned)i))
				continue;
			for (j = i + 1; j < rules_slots(R); j++)
				if (rules_type(R, (unsigned)j) != NULL && strcmp(t, rules_type(R, (unsigned)j)) == 0)
					bad++;
			/* every pack's placeholders, with the family of its pack */
			if (rules_placeholder_format(R, (unsigned)i, 1234, "K7Q2", ph, sizeof(ph)) == 0 ||
			    !rules_placeholder_at(R, ph, strlen(ph), 0, &rule, &num, &end) || rule != i ||
			    num != 1234 || end != strlen(ph)) {
				printf("# %s does not round-trip\n", ph);
				bad++;
			}
		}
		TH_OK(bad == 0, "types unique and round-trip through placeholders");
	}
}

/* restore policies, credential rules and the tagged placeholder grammar */
static void
test_restore_and_tags(void)
{
	const char *admin = "[aws-secret-key]\nrestore = everywhere\n"
	    "[ec2-instance]\nrestore = never\n"
	    "[vpc]\ncredential = yes\n";
	struct rules_placeholder p;
	struct rules *r = NULL;
	char err[512] = "", ph[96];
	int sk, st, ec2, ak;

	sk = rules_type_rule(R, "SECRET_KEY", 10);
	st = rules_type_rule(R, "SESSION_TOKEN", 13);
	ec2 = rules_type_rule(R, "EC2", 3);
	ak = rules_type_rule(R, "ACCESS_KEY", 10);
	TH_OK(sk >= 0 && st >= 0 && ec2 >= 0 && ak >= 0, "types found by name");
	if (sk < 0 || st < 0 || ec2 < 0 || ak < 0)
		return;
	TH_OK(rules_credential(R, (unsigned)sk) && rules_credential(R, (unsigned)st) &&
	    !rules_credential(R, (unsigned)ec2) && !rules_credential(R, (unsigned)ak),
	    "secret keys and session tokens are credentials, access key IDs and EC2 not");
	TH_OK(rules_restore(R, (unsigned)sk) == RULES_RESTORE_TEXT &&
	    rules_restore(R, (unsigned)st) == RULES_RESTORE_TEXT &&
	    rules_restore(R, (unsigned)ec2) == RULES_RESTORE_EVERYWHERE &&
	    rules_restore(R, (unsigned)ak) == RULES_RESTORE_EVERYWHERE,
	    "credentials default to restore = text, others everywhere");
	TH_STREQ(rules_restore_name(RULES_RESTORE_TEXT), "text", "policy names");

	/* grammar: a credential's placeholder carries a tag, others never */
	TH_OK(rules_placeholder_format(R, (unsigned)sk, 1, "K7Q2", ph, sizeof(ph)) == 23 &&
	    strcmp(ph, "AWS_SECRET_KEY_001_K7Q2") == 0, "credential format with tag");
	TH_OK(rules_placeholder_format(R, (unsigned)sk, 1, NULL, ph, sizeof(ph)) == 0,
	    "credential format without a tag is refused");
	TH_OK(rules_placeholder_format(R, (unsigned)ec2, 1, "K7Q2", ph, sizeof(ph)) == 11 &&
	    strcmp(ph, "AWS_EC2_001") == 0, "other rules never carry a tag");
	TH_OK(rules_placeholder_parse(R, "AWS_SECRET_KEY_001_K7Q2 x", 25, 0, &p) &&
	    p.rule == (unsigned)sk && p.num == 1 && p.tag == 19 && p.end == 23,
	    "tagged placeholder parses, tag found");
	TH_OK(rules_placeholder_parse(R, "AWS_SECRET_KEY_1000_0000", 24, 0, &p) &&
	    p.num == 1000 && p.tag == 20, "digits-only tag, number over 999");
	TH_OK(rules_placeholder_parse(R, "AWS_SECRET_KEY_001", 18, 0, &p) && p.tag == 0 && p.end == 18,
	    "untagged credential placeholder parses (the unmasker calls it mutated)");
	TH_OK(rules_placeholder_parse(R, "AWS_SECRET_KEY_001_K7Q", 22, 0, &p) && p.tag == 0 &&
	    p.end == 18 && rules_placeholder_parse(R, "AWS_SECRET_KEY_001_K7Q2X", 24, 0, &p) &&
	    p.tag == 0 && rules_placeholder_parse(R, "AWS_SECRET_KEY_001_k7q2", 23, 0, &p) &&
	    p.tag == 0 && rules_placeholder_parse(R, "AWS_SECRET_KEY_001_K7QI", 23, 0, &p) && p.tag == 0,
	    "short, long, lowercase or out-of-alphabet tags are no tag: untagged, ends at the '_'");
	TH_OK(rules_placeholder_parse(R, "AWS_EC2_001_K7Q2", 16, 0, &p) && p.tag == 0 && p.end == 11,
	    "'_' is a boundary: a tag on a non-credential type is no part of it");
	TH_OK(!rules_placeholder_parse(R, "AWS_EC2_001x", 12, 0, &p) &&
	    rules_placeholder_parse(R, "AWS_EC2_001_backup", 18, 0, &p) && p.end == 11,
	    "a letter after the number ends nothing, a '_' does");
	TH_OK(rules_placeholder_prefix(R, "AWS_SECRET_KEY_001", 18) &&
	    rules_placeholder_prefix(R, "AWS_SECRET_KEY_001_", 19) &&
	    rules_placeholder_prefix(R, "AWS_SECRET_KEY_001_K7", 21) &&
	    rules_placeholder_prefix(R, "AWS_SECRET_KEY_001_K7Q2", 23),
	    "holdback: a credential placeholder may still grow its tag");
	TH_OK(!rules_placeholder_prefix(R, "AWS_SECRET_KEY_001_K7Q2X", 24) &&
	    !rules_placeholder_prefix(R, "AWS_SECRET_KEY_01_", 18) &&
	    !rules_placeholder_prefix(R, "AWS_EC2_001_", 12),
	    "holdback: nothing grows past a tag, a short number or a non-credential");
	TH_OK(rules_placeholder_next(R, "xx AWS_ y", 9, 0) == 3 &&
	    rules_placeholder_next(R, "xx AWS_ y", 9, 4) == 9, "next family prefix");

	/* admin overrides */
	TH_OK(rules_load_text(admin, strlen(admin), "admin.rules", &r, err, sizeof(err)) == MG_OK,
	    "restore and credential overrides load: %s", r != NULL ? "ok" : err);
	if (r != NULL) {
		int vpc = rules_type_rule(r, "VPC", 3);
		TH_OK(rules_restore(r, (unsigned)rules_type_rule(r, "SECRET_KEY", 10)) ==
		    RULES_RESTORE_EVERYWHERE &&
		    rules_credential(r, (unsigned)rules_type_rule(r, "SECRET_KEY", 10)),
		    "admin allows restoring secret keys; they stay credentials (tagged)");
		TH_OK(rules_restore(r, (unsigned)rules_type_rule(r, "EC2", 3)) == RULES_RESTORE_NEVER,
		    "admin: never");
		TH_OK(vpc >= 0 && rules_credential(r, (unsigned)vpc) &&
		    rules_restore(r, (unsigned)vpc) == RULES_RESTORE_TEXT,
		    "admin made a rule a credential: restore defaults to text");
		rules_free(r);
	}
	bad("[x]\ntype = X\npattern = x\nrestore = tools\n", "restore: want everywhere, text or never");
	bad("[x]\ntype = X\npattern = x\ncredential = maybe\n", "credential: want yes or no");
}

int
main(void)
{
	arena_init(&A);
	test_load();
	if (R == NULL)
		return th_done();
	test_admin();
	test_bad_files();
	test_check_file();
	test_resource_ids();
	test_arns();
	test_credentials();
	test_accounts_ips_hosts();
	test_precision();
	test_overlaps();
	test_placeholders();
	test_restore_and_tags();
	rules_free(R);
	arena_free(&A);
	return th_done();
}
