"""A Claude-Code-shaped Messages request (about 76 KB, like a first turn):
system blocks with cache_control, 24 tools with JSON schemas, and turns with
tool_use and tool_result blocks full of AWS CLI output."""
import json


def _describe_instances(n):
    res = []
    for i in range(n):
        res.append({"OwnerId": "123456789012", "ReservationId": "r-0%015x" % (0xabc000 + i),
                    "Instances": [{"InstanceId": "i-0%016x" % (0x1a2b3c4d5e6f7000 + i),
                                   "ImageId": "ami-0%016x" % (0x9f8e7d6c5b4a3000 + i),
                                   "VpcId": "vpc-0%016x" % (0x5566778899aa0000 + i % 3),
                                   "SubnetId": "subnet-0%016x" % (0x1122334455660000 + i % 5),
                                   "PrivateIpAddress": "10.0.%d.%d" % (i % 250, (i * 7) % 250),
                                   "PublicIpAddress": "54.%d.%d.%d" % (20 + i % 200, (i * 3) % 250, (i * 11) % 250),
                                   "SecurityGroups": [{"GroupId": "sg-0%016x" % (0x7788990011220000 + i % 4),
                                                       "GroupName": "web-tier"}],
                                   "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/app-%d" % i},
                                   "State": {"Name": "running"}, "InstanceType": "m6i.large",
                                   "Tags": [{"Key": "Name", "Value": "app-server-%d" % i}]}]})
    return json.dumps({"Reservations": res}, indent=2)


def claude_code_body(target_kb=76):
    tools = []
    for i in range(24):
        tools.append({"name": "Tool%02d" % i,
                      "description": ("Runs operation %d. Use it carefully; it reads files, edits code, "
                                      "and executes shell commands in the user's workspace. " % i) * 12,
                      "input_schema": {"type": "object", "properties": {
                          "command": {"type": "string", "description": "The command to run"},
                          "timeout": {"type": "number", "description": "Timeout in ms"}},
                          "required": ["command"]}})
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 64000, "stream": False,
            "system": [{"type": "text", "text": "You are Claude Code, an interactive CLI tool. " * 40,
                        "cache_control": {"type": "ephemeral"}}],
            "tools": tools, "metadata": {"user_id": "user_bench"},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Why can't i-0123456789abcdef0 reach s3://acme-logs-prod/2026/?"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "Tool00",
                                                   "input": {"command": "aws ec2 describe-instances --region us-east-1"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01",
                                              "content": _describe_instances(10)}]}]}
    n = 10
    while len(json.dumps(body)) < target_kb * 1024:
        n += 2
        body["messages"][2]["content"][0]["content"] = _describe_instances(n)
    return body
