/*
 * test_rules_families.c - the identifier families of issue 12 and the
 * boundaries of issue 11 (route 7), one check per context: what the default
 * rules mask, and what they leave in clear.
 */
#include <stdlib.h>

#include "th.h"
#include "arena.h"
#include "log.h"
#include "rules.h"

static struct rules *R;
static struct arena A;

/* "TYPE=value;TYPE=value" for every masked span of text */
static const char *
scan(const char *text)
{
	static char out[8192];
	struct rules_match *m;
	size_t n, i, o = 0;

	out[0] = '\0';
	arena_reset(&A);
	if (rules_scan(R, &A, text, strlen(text), &m, &n) != MG_OK)
		return "ERROR";
	for (i = 0; i < n; i++) {
		int w;
		if (m[i].action != RULES_MASK)
			continue;
		w = snprintf(out + o, sizeof(out) - o, "%s%s=%.*s", o ? ";" : "",
		    rules_type(R, m[i].rule), (int)(m[i].end - m[i].start), text + m[i].start);
		if (w < 0 || (size_t)w >= sizeof(out) - o)
			break;
		o += (size_t)w;
	}
	return out;
}

static void
expect(const char *text, const char *want)
{
	const char *got = scan(text);
	char name[71];
	size_t i;

	snprintf(name, sizeof(name), "%s", text);
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] == '\n')
			name[i] = '|';	/* one TAP line per check */
	TH_OK(strcmp(got, want) == 0, "scan %s -> %s%s%s", name, want,
	    strcmp(got, want) ? " GOT " : "", strcmp(got, want) ? got : "");
}

#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define PAGE "eyJhd3NBY2NvdW50SWQiOnsicyI6IjMwMjc3NjAxNjM5OCJ9LCJidWlsZElkIjp7InMiOiJidWlsZC01NWYxZTZmMS1jY2FlLTQ3YTctOWI5ZS1iYjFkYTQwMjEXAMPLE2"
#define TOK "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6Y5jZsX3n9k2Lq8Vb7Tz1xRw4uE0cP2fHmNaJdKgOeQIgXz1ut7QhJ3bRkLm9"

static void
test_secret_keys(void)
{
	expect("secret: " SK, "SECRET_KEY=" SK);
	expect("aws_secret = \"" SK "\"", "SECRET_KEY=" SK);
	expect("SecretKey=" SK, "SECRET_KEY=" SK);
	expect("<secret>" SK "</secret>", "SECRET_KEY=" SK);
	expect("aws configure set --secret-access-key " SK, "SECRET_KEY=" SK);
	expect("docker run -e AWS_SECRET_ACCESS_KEY=" SK " img", "SECRET_KEY=" SK);
	expect("  secret_key = \"" SK "\"", "SECRET_KEY=" SK);
	expect(".withSecretKey(\"" SK "\")", "SECRET_KEY=" SK);
	/* on the line after or before an access key ID */
	expect("access_key     ****************MPLE shared-credentials-file\nAKIAIOSFODNN7EXAMPLE\n" SK "\n",
	    "ACCESS_KEY=AKIAIOSFODNN7EXAMPLE;SECRET_KEY=" SK);
	expect("\"" SK "\",\n\"AKIAIOSFODNN7EXAMPLE\"", "SECRET_KEY=" SK ";ACCESS_KEY=AKIAIOSFODNN7EXAMPLE");
	/* a git SHA next to a key ID, or alone, stays */
	expect("AKIAIOSFODNN7EXAMPLE\ncommit 9fceb02d0ae598e95dc970b74767f19372d61af8",
	    "ACCESS_KEY=AKIAIOSFODNN7EXAMPLE");
	expect("sha1 9fceb02d0ae598e95dc970b74767f19372d61af8", "");
}

static void
test_session_tokens(void)
{
	expect("session: " TOK, "SESSION_TOKEN=" TOK);
	expect("token: " TOK, "SESSION_TOKEN=" TOK);
	expect("\"SessionToken\": \"" TOK "\"", "SESSION_TOKEN=" TOK);
	expect("x-amz-security-token: " TOK, "SESSION_TOKEN=" TOK);
	expect("GET /k?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaCXVzLWVhc3QtMSJHMEUCIQD6Y5jZsX3n9k2Lq8Vb7Tz1xRw4uE0cP2fH&X-Amz-Date=1",
	    "SESSION_TOKEN=IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaCXVzLWVhc3QtMSJHMEUCIQD6Y5jZsX3n9k2Lq8Vb7Tz1xRw4uE0cP2fH");
	/* structural prefixes wherever they stand */
	expect("creds " TOK " end", "SESSION_TOKEN=" TOK);
	expect("FwoGZXIvYXdzEBYaDGk3Vx9Ln2TqLmZ8rSLAAYq1pH0bGfJ4eA7uKiN5oQxRdC6gM2vBa8Tz1yXw3qLnK9sD4fH7jR0uE6pC5mZo",
	    "SESSION_TOKEN=FwoGZXIvYXdzEBYaDGk3Vx9Ln2TqLmZ8rSLAAYq1pH0bGfJ4eA7uKiN5oQxRdC6gM2vBa8Tz1yXw3qLnK9sD4fH7jR0uE6pC5mZo");
	/* pagination tokens are not credentials */
	expect("\"NextToken\": \"" PAGE "\"", "");
	expect("next_token = " PAGE, "");
}

static void
test_other_credentials(void)
{
	expect("AWS_BEARER_TOKEN_BEDROCK=ABSKQmVkcm9ja0FQSUtleS10ZXN0LWtleS0xMjM0NTY3ODkw",
	    "BEDROCK_KEY=ABSKQmVkcm9ja0FQSUtleS10ZXN0LWtleS0xMjM0NTY3ODkw");
	expect("key bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbg==",
	    "BEDROCK_KEY=bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29tLz9BY3Rpb249Q2FsbFdpdGhCZWFyZXJUb2tlbg==");
	expect("\"x-api-key\": \"da2-4e5hpgtowjah5hgajyfh2e7cju\"", "APPSYNC_KEY=da2-4e5hpgtowjah5hgajyfh2e7cju");
	expect("MWSAuthToken=amzn.mws.123a5678-d34d-b33f-f00d-f00df00df00d",
	    "MWS_TOKEN=amzn.mws.123a5678-d34d-b33f-f00d-f00df00df00d");
	expect("A3TXIOSFODNN7EXAMPLE", "ACCESS_KEY=A3TXIOSFODNN7EXAMPLE");
	expect("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
	    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
	    "ACCESS_KEY=AKIAIOSFODNN7EXAMPLE;SIGNATURE=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	expect("Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	    "SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
	    "ACCESS_KEY=AKIAIOSFODNN7EXAMPLE;SIGNATURE=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024");
}

static void
test_accounts(void)
{
	expect("\"GroupOwnerId\": \"483920175634\"", "ACCOUNT=483920175634");
	expect("\"VpcOwnerId\": \"483920175634\"", "ACCOUNT=483920175634");
	expect("\"ResourceOwner\": \"483920175634\"", "ACCOUNT=483920175634");
	expect("\"RequesterId\": \"483920175634\"", "ACCOUNT=483920175634");
	expect("\"registryId\": \"483920175634\"", "ACCOUNT=483920175634");
	expect("\"UserIdGroupPairs\": [{\"GroupId\": \"x\", \"UserId\": \"483920175634\"}]", "ACCOUNT=483920175634");
	expect("aws ec2 modify-image-attribute --user-ids 483920175634", "ACCOUNT=483920175634");
	expect("aws lambda add-permission --principal 483920175634", "ACCOUNT=483920175634");
	expect("cdk bootstrap --account 483920175634", "ACCOUNT=483920175634");
	expect("\"Principal\": {\"AWS\": \"483920175634\"}", "ACCOUNT=483920175634");
	expect("\"PayerAccountId\": \"483920175634\"", "ACCOUNT=483920175634");
	expect("in the ``483920175634`` AWS account", "ACCOUNT=483920175634");
	expect("\"UserIds\": [\"483920175634\", \"572839102847\"]", "ACCOUNT=483920175634;ACCOUNT=572839102847");
	/* an account seen in context is masked where it stands alone too */
	expect("\"OwnerId\": \"483920175634\" ... bucket logs-483920175634-us-east-1",
	    "ACCOUNT=483920175634;ACCOUNT=483920175634");
	/* prose about other accounts */
	expect("please debit bank account 954567876544 today", "");
	expect("Order number 954567876544 shipped", "");
}

static void
test_resource_prefixes(void)
{
	expect("sgr-0a1b2c3d4e5f67890", "EC2_RESOURCE=sgr-0a1b2c3d4e5f67890");
	expect("ipam-pool-0a1b2c3d4e5f67890 ipam-scope-0a1b2c3d4e5f67890",
	    "EC2_RESOURCE=ipam-pool-0a1b2c3d4e5f67890;EC2_RESOURCE=ipam-scope-0a1b2c3d4e5f67890");
	expect("iew-0a1b2c3d4e5f67890 pb-0a1b2c3d4e5f67890",
	    "EC2_RESOURCE=iew-0a1b2c3d4e5f67890;EC2_RESOURCE=pb-0a1b2c3d4e5f67890");
	expect("vpce-nfn-008776de7e03f5abc", "VPC_ENDPOINT=vpce-nfn-008776de7e03f5abc");
	expect("import-ami-0a1b2c3d4e5f67890 export-i-fh8sjjsq",
	    "EC2_TASK=import-ami-0a1b2c3d4e5f67890;EC2_TASK=export-i-fh8sjjsq");
	/* ordinary-word prefixes need the 17-hex form */
	expect("device-12345678 policy-0123456789abcdef0", "EC2_RESOURCE=policy-0123456789abcdef0");
}

static void
test_names(void)
{
	expect("o-a1b2c3d4e5 ou-ab12-cd34ef56", "ORGANIZATION=o-a1b2c3d4e5;ORGANIZATION=ou-ab12-cd34ef56");
	expect("\"ParentId\": \"r-ab12\"", "ORG_ROOT=r-ab12");
	expect("node ip-10-0-1-55.ec2.internal ready", "EC2_PRIVATE_HOST=ip-10-0-1-55.ec2.internal");
	expect("ip-10-0-1-55.eu-west-1.compute.internal", "EC2_PRIVATE_HOST=ip-10-0-1-55.eu-west-1.compute.internal");
	expect("arn:aws:s3:::my-data-bucket/key.txt", "S3_BUCKET=my-data-bucket");
}

static void
test_precision(void)
{
	expect("libxcb 1.1.90.1", "");
	expect("v2.4.0.1", "");
	expect("at-spi2-core (2.39.90.1-1) unstable", "");
	expect("version 54.210.12.34", "");
	expect("\"PublicIp\": \"3.8.12.25\"", "IPV4=3.8.12.25");
	expect("connect to host 3.8.12.25", "IPV4=3.8.12.25");
	expect("curl http://3.8.12.25/health", "IPV4=3.8.12.25");
	expect("ssh ec2-user@3.8.12.25", "IPV4=3.8.12.25");
	expect("54.210.12.34", "IPV4=54.210.12.34");
}

/* issue 11, route 7 */
static void
test_boundaries(void)
{
	expect("node_i-0a1b2c3d4e5f67890", "EC2=i-0a1b2c3d4e5f67890");
	expect("i-0a1b2c3d4e5f67890_console.log", "EC2=i-0a1b2c3d4e5f67890");
	expect("54.210.12.34_32", "IPV4=54.210.12.34");
	expect("arn:aws-iso:iam::483920175634:role/r1", "IAM_ROLE=arn:aws-iso:iam::483920175634:role/r1");
	expect("arn:aws-iso-b:iam::483920175634:role/r1", "IAM_ROLE=arn:aws-iso-b:iam::483920175634:role/r1");
	expect("arn:aws-iso-e:lambda:eu-isoe-west-1:483920175634:function:f",
	    "LAMBDA=arn:aws-iso-e:lambda:eu-isoe-west-1:483920175634:function:f");
	expect("arn:aws-iso-f:sns:us-isof-south-1:483920175634:t",
	    "SNS_TOPIC=arn:aws-iso-f:sns:us-isof-south-1:483920175634:t");
	expect("arn:aws-eusc:lambda:eusc-de-east-1:483920175634:function:f",
	    "LAMBDA=arn:aws-eusc:lambda:eusc-de-east-1:483920175634:function:f");
	/* an ARN around a placeholder keeps its account masked */
	expect("arn:aws:iam::483920175634:role/AWS_EC2_001", "ACCOUNT=483920175634");
}

int
main(void)
{
	char err[512] = "";

	log_set_level(LOG_WARN);
	arena_init(&A);
	if (rules_load(NULL, &R, err, sizeof(err)) != MG_OK) {
		TH_OK(0, "rules load: %s", err);
		return th_done();
	}
	test_secret_keys();
	test_session_tokens();
	test_other_credentials();
	test_accounts();
	test_resource_prefixes();
	test_names();
	test_precision();
	test_boundaries();
	rules_free(R);
	arena_free(&A);
	return th_done();
}
