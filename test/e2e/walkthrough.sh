#!/usr/bin/env bash
# Runs the README's walk-through word for word with the real aws CLI and psql against a
# fresh `borealis serve`, then checks what a newcomer would see. The README's fixed address
# and data directory are swapped for a free port and a temporary directory, nothing else
# (serve's DNS gets a free port too, so that it runs beside a `make run`).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BOREALIS_BIN:-$top/bin/borealis}
work=$(mktemp -d /tmp/borealis-walkthrough-XXXXXX)
chmod 755 "$work" # PostgreSQL runs as postgres and must reach its data below here
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api="127.0.0.1:$port"
pass=0 fail=0

cleanup() {
  if [ -n "${serve_pid:-}" ]; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

check() { # check NAME COMMAND...: one test result line each
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "ok   - $name"; else fail=$((fail + 1)); echo "FAIL - $name"; fi
}

cd "$work"
"$bin" serve --data-dir .borealis --api-addr "$api" --dns-addr 127.0.0.1:0 >serve.log 2>&1 &
serve_pid=$!
for _ in $(seq 1 200); do
  curl -fsS "http://$api/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# The walk-through block, with only the address changed.
sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' "$top/README.md" \
  | sed '1,2d;$d' | sed '$d' \
  | sed "s#http://127.0.0.1:8080#http://$api#g" >walkthrough.sh

# Run it up to the clean-up, keep the output, then check the connection details.
sed '/^# Clean up./,$d' walkthrough.sh >setup.sh
{ sed '/^$/,$d' walkthrough.sh; sed -n '/^# Clean up./,$p' walkthrough.sh; } >teardown.sh # preamble + clean-up
if bash -euo pipefail setup.sh >setup.out 2>&1; then setup_ok=true; else setup_ok=false; fi
cat setup.out

check "walk-through runs to the end of its setup" $setup_ok
check "cluster is available with a 15.x engine" grep -Eq '^available[[:space:]]+demo\.cluster-[a-z0-9]+\.us-east-1\.rds\.borealis\.localhost[[:space:]]+[0-9]+[[:space:]]+15\.[0-9]+$' setup.out
check "psql session is the master user over TLS 1.2+" grep -Eq 'dbadmin +\| t +\| TLSv1\.[23]' setup.out
check "master user has Aurora's attributes" grep -Eq 'dbadmin +\| f +\| t +\| t +\| infinity' setup.out
check "rdsadmin is the superuser" grep -Eq 'rdsadmin +\| t ' setup.out
check "the reboot brings the parameters in-sync" grep -qx 'in-sync' setup.out
check "rds.force_ssl refuses plaintext with PostgreSQL's FATAL" grep -q 'no pg_hba.conf entry for host "127.0.0.1", user "dbadmin", database "appdb", no encryption' setup.out
check "rds.restrict_password_commands refuses a non-member" grep -q 'must be a member of rds_password to alter passwords' setup.out
check "a read-only IAM user is denied CreateDBCluster" grep -q 'AccessDenied.*is not authorized to perform: rds:CreateDBCluster' setup.out
check "the read-only IAM user can describe" grep -qx 'demo' setup.out
check "the master user creates sslinfo and sees its TLS session" grep -Eq '^ t +\| TLS_' setup.out
check "a database user in rds_iam logs in with an IAM token" grep -Eq '^ logged_in_with_a_token *$' setup.out
check "the token's login is the reporter role" grep -Eq '^ reporter *$' setup.out
check "the default security group refuses this host before a rule admits it" grep -qx 'refused: no security group rule admits 127.0.0.1 yet' setup.out
check "authorize-security-group-ingress returns the new rule" grep -q '"IsEgress": false' setup.out

export AWS_SHARED_CREDENTIALS_FILE=$work/.borealis/credentials
awsb() { aws --endpoint-url "http://$api" --region us-east-1 "$@"; }
endpoint=$(awsb rds describe-db-clusters --db-cluster-identifier demo --query 'DBClusters[0].Endpoint' --output text)
pgport=$(awsb rds describe-db-clusters --db-cluster-identifier demo --query 'DBClusters[0].Port' --output text)

wrong_host() {
  local out
  out=$(PGPASSWORD='Ch4nge-me-now' psql "host=impostor.cluster-x.us-east-1.rds.borealis.localhost hostaddr=127.0.0.1 port=$pgport dbname=appdb user=dbadmin sslmode=verify-full sslrootcert=.borealis/global-bundle.pem connect_timeout=10" -c 'select 1' 2>&1) && return 1
  echo "$out"
  grep -q 'does not match host name' <<<"$out"
}
check "verify-full with a wrong host name fails" wrong_host

# A CA that is not Borealis': verify-full must fail against it.
other_ca=$work/other-ca.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other-ca.key" -subj /CN=other -days 1 -out "$other_ca" 2>/dev/null
no_bundle() {
  local out
  out=$(PGPASSWORD='Ch4nge-me-now' psql "host=$endpoint hostaddr=127.0.0.1 port=$pgport dbname=appdb user=dbadmin sslmode=verify-full sslrootcert=$other_ca connect_timeout=10" -c 'select 1' 2>&1) && return 1
  echo "$out"
  grep -q 'certificate verify failed' <<<"$out"
}
check "verify-full against another CA fails" no_bundle

check "the bundle is served at /global-bundle.pem" cmp -s .borealis/global-bundle.pem <(curl -fsS "http://$api/global-bundle.pem")
check "the credentials file is 0600" test "$(stat -c %a .borealis/credentials)" = 600

missing() {
  local out
  out=$(awsb rds describe-db-clusters --db-cluster-identifier no-such-cluster 2>&1) && return 1
  echo "$out"
  grep -q 'DBClusterNotFoundFault' <<<"$out"
}
check "an unknown cluster is DBClusterNotFoundFault" missing

# The EC2 API through the aws CLI, beyond what the walk-through shows.
vpc=$(awsb ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId' --output text)
check "the default VPC exists from the first start" grep -Eq '^vpc-[0-9a-f]{17}$' <<<"$vpc"
app_sg=$(awsb ec2 create-security-group --group-name app --description "app servers" --vpc-id "$vpc" --query GroupId --output text)
check "create-security-group returns a group id" grep -Eq '^sg-[0-9a-f]{17}$' <<<"$app_sg"
cli_rules() {
  awsb ec2 authorize-security-group-ingress --group-id "$app_sg" \
    --ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5440,Ipv6Ranges=[{CidrIpv6=::1/128}]' >/dev/null &&
  awsb ec2 describe-security-group-rules --filters "Name=group-id,Values=$app_sg" \
    --query 'SecurityGroupRules[?IsEgress==`false`].[IpProtocol,FromPort,ToPort,CidrIpv6]' --output text |
    grep -Eq '^tcp[[:space:]]+5432[[:space:]]+5440[[:space:]]+::1/128$'
}
check "an IPv6 rule is authorized and described" cli_rules
duplicate() {
  local out
  out=$(awsb ec2 authorize-security-group-ingress --group-id "$app_sg" \
    --ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5440,Ipv6Ranges=[{CidrIpv6=::1/128}]' 2>&1) && return 1
  echo "$out"
  grep -q 'InvalidPermission.Duplicate' <<<"$out"
}
check "the same rule twice is InvalidPermission.Duplicate" duplicate
bad_cidr() {
  local out
  out=$(awsb ec2 authorize-security-group-ingress --group-id "$app_sg" --protocol tcp --port 5432 --cidr 10.0.0.300/32 2>&1) && return 1
  echo "$out"
  grep -q 'InvalidParameterValue' <<<"$out"
}
check "a bad CIDR is InvalidParameterValue" bad_cidr
check "delete-security-group removes an unused group" awsb ec2 delete-security-group --group-id "$app_sg"

# The clean-up revokes the rule the walk-through added: it needs the group and port.
SG=$(awsb rds describe-db-clusters --db-cluster-identifier demo --query 'DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId' --output text)
export SG PORT=$pgport
if bash -euo pipefail teardown.sh >teardown.out 2>&1; then teardown_ok=true; else teardown_ok=false; cat teardown.out; fi
check "walk-through clean-up runs" $teardown_ok
gone() {
  for _ in $(seq 1 100); do
    awsb rds describe-db-clusters --db-cluster-identifier demo >/dev/null 2>&1 || return 0
    sleep 0.2
  done
  return 1
}
check "the cluster is gone after the clean-up" gone

if [ "$fail" -gt 0 ]; then
  echo "--- borealis serve log (tail)"; tail -n 50 serve.log
fi
echo "walkthrough: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
