package rds

import (
	"regexp"
	"slices"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/scram"
)

// Engine is the only engine Borealis runs.
const Engine = "aurora-postgresql"

var identifierRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,62}$`)

// checkIdentifier applies RDS's identifier rules and returns the stored, lower-case form.
func checkIdentifier(param, id string) (string, error) {
	if id == "" {
		return "", awsquery.MissingParameter(param)
	}
	if !identifierRE.MatchString(id) || strings.HasSuffix(id, "-") || strings.Contains(id, "--") {
		return "", awsquery.InvalidParameterValue("The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", param)
	}
	return strings.ToLower(id), nil
}

var masterUserRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// reservedNames are role names PostgreSQL or RDS keeps for themselves: a master user of
// that name would collide with a service role or be unusable unquoted in SQL.
var reservedNames = map[string]bool{
	"rdsadmin": true, "rdsrepladmin": true, "rdstopmgr": true, "rdsproxyadmin": true,
	"public": true, "none": true, "all": true, "user": true, "default": true,
	"current_user": true, "session_user": true, "current_role": true,
	"analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true,
	"asc": true, "asymmetric": true, "both": true, "case": true, "cast": true, "check": true,
	"collate": true, "column": true, "constraint": true, "create": true, "current_catalog": true,
	"current_date": true, "current_time": true, "current_timestamp": true, "deferrable": true,
	"desc": true, "distinct": true, "do": true, "else": true, "end": true, "except": true,
	"false": true, "fetch": true, "for": true, "foreign": true, "from": true, "grant": true,
	"group": true, "having": true, "in": true, "initially": true, "intersect": true, "into": true,
	"lateral": true, "leading": true, "limit": true, "localtime": true, "localtimestamp": true,
	"not": true, "null": true, "offset": true, "on": true, "only": true, "or": true, "order": true,
	"placing": true, "primary": true, "references": true, "returning": true, "select": true,
	"some": true, "symmetric": true, "table": true, "then": true, "to": true, "trailing": true,
	"true": true, "union": true, "unique": true, "using": true, "variadic": true, "when": true,
	"where": true, "window": true, "with": true,
}

// checkMasterUsername applies Aurora PostgreSQL's rule: 1 to 16 letters or digits, starting
// with a letter, not a reserved word.
func checkMasterUsername(name string) error {
	if name == "" {
		return awsquery.InvalidParameterValue("The parameter MasterUsername must be provided and must not be blank.")
	}
	if len(name) > 16 {
		return awsquery.InvalidParameterValue("The parameter MasterUsername is not a valid identifier because it is longer than 16 characters.")
	}
	if !masterUserRE.MatchString(name) {
		return awsquery.InvalidParameterValue("The parameter MasterUsername is not a valid identifier. Identifiers must begin with a letter and must contain only ASCII letters and digits.")
	}
	if reservedNames[strings.ToLower(name)] || strings.HasPrefix(strings.ToLower(name), "rds") && strings.Contains(strings.ToLower(name), "admin") {
		return awsquery.InvalidParameterValue("MasterUsername %s cannot be used as it is a reserved word used by the engine", name)
	}
	return nil
}

// checkPassword applies RDS's master password rule: 8 to 128 printable ASCII characters
// other than '/', '"', '@' and space. The password itself never appears in the error.
func checkPassword(pw string) error {
	if pw == "" {
		return awsquery.InvalidParameterValue("The parameter MasterUserPassword must be provided and must not be blank.")
	}
	if len(pw) < 8 {
		return awsquery.InvalidParameterValue("The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters.")
	}
	if len(pw) > 128 {
		return awsquery.InvalidParameterValue("The parameter MasterUserPassword is not a valid password because it is longer than 128 characters.")
	}
	for i := 0; i < len(pw); i++ {
		c := pw[i]
		if c < 0x21 || c > 0x7e || c == '/' || c == '"' || c == '@' {
			return awsquery.InvalidParameterValue("The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.")
		}
	}
	return nil
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

func checkDatabaseName(name string) error {
	if !dbNameRE.MatchString(name) || reservedNames[strings.ToLower(name)] || strings.EqualFold(name, "rdsadmin") ||
		strings.EqualFold(name, "template0") || strings.EqualFold(name, "template1") {
		return awsquery.InvalidParameterValue("The parameter DatabaseName is not valid. It must begin with a letter, contain 1 to 63 letters, digits or underscores, and must not be a reserved word.")
	}
	return nil
}

// checkEngine accepts aurora-postgresql at the version Borealis runs: the major version
// alone ("15") or the exact installed version ("15.18"). Any other version is refused as
// RDS refuses one it does not offer, rather than silently becoming the installed one.
func checkEngine(engine, version, installed string) error {
	if engine == "" {
		return awsquery.MissingParameter("Engine")
	}
	if engine != Engine {
		return awsquery.InvalidParameterValue("Invalid DB engine: %s", engine)
	}
	if version != "" && !offersVersion(version, installed) {
		return awsquery.InvalidParameterCombination("Cannot find version %s for %s", awsquery.Clip(version), engine)
	}
	return nil
}

func checkInstanceClass(class, version string) error {
	if class == "" {
		return awsquery.MissingParameter("DBInstanceClass")
	}
	if !slices.Contains(instanceClasses, class) {
		return awsquery.InvalidParameterCombination("RDS does not support creating a DB instance with the following combination: DBInstanceClass=%s, Engine=%s, EngineVersion=%s, LicenseModel=%s. For supported combinations of instance class and database engine version, see the documentation.", class, Engine, version, licenseModel)
	}
	return nil
}

// masterPasswordVerifier checks a MasterUserPassword (CreateDBCluster and ModifyDBCluster
// alike) and returns what Borealis keeps of it: PostgreSQL's SCRAM-SHA-256 verifier with a
// random salt. The plaintext is never stored; the verifier alone logs no one in, and
// differs between clusters with the same password. The master's password is SCRAM whatever
// the parameter group's password_encryption says: that parameter governs passwords the
// server hashes itself (CREATE/ALTER ROLE ... PASSWORD), and pg_hba.conf's md5 method, used
// while rds.accepted_password_auth_method allows md5, accepts SCRAM-stored passwords too.
func masterPasswordVerifier(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	return scram.Verifier(password)
}
