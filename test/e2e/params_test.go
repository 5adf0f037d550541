package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func param(name, value string, method rdstypes.ApplyMethod) rdstypes.Parameter {
	return rdstypes.Parameter{ParameterName: aws.String(name), ParameterValue: aws.String(value), ApplyMethod: method}
}

// findParam returns one parameter of a DescribeDB*Parameters answer.
func findParam(t *testing.T, ps []rdstypes.Parameter, name string) rdstypes.Parameter {
	t.Helper()
	for _, p := range ps {
		if aws.ToString(p.ParameterName) == name {
			return p
		}
	}
	t.Fatalf("parameter %s not listed", name)
	return rdstypes.Parameter{}
}

func clusterParams(ctx context.Context, t *testing.T, c *rds.Client, group string) []rdstypes.Parameter {
	t.Helper()
	out, err := c.DescribeDBClusterParameters(ctx, &rds.DescribeDBClusterParametersInput{DBClusterParameterGroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Parameters
}

func TestParameterGroupsBehaveLikeRDS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := shared.get(t).rds(t)
	const def = "default.aurora-postgresql15"

	t.Run("the default groups exist and cannot change", func(t *testing.T) {
		out, err := c.DescribeDBClusterParameterGroups(ctx, &rds.DescribeDBClusterParameterGroupsInput{DBClusterParameterGroupName: aws.String(def)})
		if err != nil || len(out.DBClusterParameterGroups) != 1 || aws.ToString(out.DBClusterParameterGroups[0].DBParameterGroupFamily) != "aurora-postgresql15" {
			t.Fatalf("default cluster group: %+v %v", out, err)
		}
		if _, err := c.DescribeDBParameterGroups(ctx, &rds.DescribeDBParameterGroupsInput{DBParameterGroupName: aws.String(def)}); err != nil {
			t.Fatalf("default DB group: %v", err)
		}
		_, err = c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(def),
			Parameters: []rdstypes.Parameter{param("rds.force_ssl", "1", rdstypes.ApplyMethodImmediate)}})
		if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 || !strings.Contains(err.Error(), "Cannot modify a default parameter group.") {
			t.Errorf("modify default: %s/%d %v", code, status, err)
		}
		_, err = c.DeleteDBClusterParameterGroup(ctx, &rds.DeleteDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(def)})
		if code, _ := apiError(t, err); code != "InvalidDBParameterGroupState" {
			t.Errorf("delete default: %s %v", code, err)
		}
	})

	t.Run("parameters describe their type and how they apply", func(t *testing.T) {
		ps := clusterParams(ctx, t, c, def)
		ssl := findParam(t, ps, "rds.force_ssl")
		if aws.ToString(ssl.ApplyType) != "dynamic" || aws.ToString(ssl.DataType) != "boolean" || aws.ToString(ssl.AllowedValues) != "0,1" ||
			aws.ToString(ssl.ParameterValue) != "0" || aws.ToString(ssl.Source) != "engine-default" || !aws.ToBool(ssl.IsModifiable) {
			t.Errorf("rds.force_ssl = %+v", ssl)
		}
		if rp := findParam(t, ps, "rds.restrict_password_commands"); aws.ToString(rp.ApplyType) != "static" {
			t.Errorf("rds.restrict_password_commands apply type %s", aws.ToString(rp.ApplyType))
		}
		defaults, err := c.DescribeEngineDefaultClusterParameters(ctx, &rds.DescribeEngineDefaultClusterParametersInput{DBParameterGroupFamily: aws.String("aurora-postgresql15")})
		if err != nil || len(defaults.EngineDefaults.Parameters) != len(ps) {
			t.Errorf("engine defaults: %d parameters (%v), group lists %d", len(defaults.EngineDefaults.Parameters), err, len(ps))
		}
		dbDefaults, err := c.DescribeDBParameters(ctx, &rds.DescribeDBParametersInput{DBParameterGroupName: aws.String(def)})
		if err != nil {
			t.Fatal(err)
		}
		if mc := findParam(t, dbDefaults.Parameters, "max_connections"); aws.ToString(mc.ApplyType) != "static" || aws.ToString(mc.DataType) != "integer" {
			t.Errorf("max_connections = %+v", mc)
		}
	})

	group := "params-custom"
	if _, err := c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String(group), DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("test"),
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("create refuses duplicates and other families", func(t *testing.T) {
		_, err := c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{
			DBClusterParameterGroupName: aws.String("PARAMS-CUSTOM"), DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("x")})
		if code, _ := apiError(t, err); code != "DBParameterGroupAlreadyExists" {
			t.Errorf("duplicate: %s", code)
		}
		_, err = c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{
			DBClusterParameterGroupName: aws.String("other"), DBParameterGroupFamily: aws.String("aurora-mysql8.0"), Description: aws.String("x")})
		if code, _ := apiError(t, err); code != "InvalidParameterValue" {
			t.Errorf("other family: %s", code)
		}
		_, err = c.DescribeDBClusterParameters(ctx, &rds.DescribeDBClusterParametersInput{DBClusterParameterGroupName: aws.String("nope")})
		if code, status := apiError(t, err); code != "DBParameterGroupNotFound" || status != 404 {
			t.Errorf("unknown group: %s/%d", code, status)
		}
	})

	t.Run("modify validates every value and changes nothing when one is bad", func(t *testing.T) {
		cases := []struct {
			name string
			p    rdstypes.Parameter
			code string
		}{
			{"unknown parameter", param("no_such_thing", "1", rdstypes.ApplyMethodImmediate), "InvalidParameterValue"},
			{"instance-only parameter", param("max_connections", "50", rdstypes.ApplyMethodPendingReboot), "InvalidParameterValue"},
			{"not modifiable", param("ssl", "0", rdstypes.ApplyMethodPendingReboot), "InvalidParameterValue"},
			{"not a boolean", param("rds.force_ssl", "2", rdstypes.ApplyMethodImmediate), "InvalidParameterValue"},
			{"not an allowed value", param("password_encryption", "plain", rdstypes.ApplyMethodImmediate), "InvalidParameterValue"},
			{"not an integer", param("statement_timeout", "ten", rdstypes.ApplyMethodImmediate), "InvalidParameterValue"},
			{"unknown time zone", param("timezone", "Mars/Olympus", rdstypes.ApplyMethodImmediate), "InvalidParameterValue"},
			{"immediate on a static parameter", param("rds.restrict_password_commands", "1", rdstypes.ApplyMethodImmediate), "InvalidParameterCombination"},
		}
		for _, tc := range cases {
			_, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
				Parameters: []rdstypes.Parameter{param("log_statement", "all", rdstypes.ApplyMethodImmediate), tc.p}})
			if code, status := apiError(t, err); code != tc.code || status != 400 {
				t.Errorf("%s: %s/%d (%v)", tc.name, code, status, err)
			}
		}
		var many []rdstypes.Parameter
		for i := 0; i < 21; i++ {
			many = append(many, param("statement_timeout", fmt.Sprint(i), rdstypes.ApplyMethodImmediate))
		}
		_, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group), Parameters: many})
		if code, _ := apiError(t, err); code != "InvalidParameterValue" {
			t.Errorf("21 parameters: %s", code)
		}
		if p := findParam(t, clusterParams(ctx, t, c, group), "log_statement"); aws.ToString(p.Source) != "engine-default" {
			t.Errorf("a refused modify changed log_statement: %+v", p)
		}
	})

	t.Run("modify, reset and copy", func(t *testing.T) {
		_, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
			Parameters: []rdstypes.Parameter{param("log_statement", "ddl", rdstypes.ApplyMethodImmediate), param("rds.restrict_password_commands", "1", rdstypes.ApplyMethodPendingReboot)}})
		if err != nil {
			t.Fatal(err)
		}
		ps := clusterParams(ctx, t, c, group)
		if p := findParam(t, ps, "log_statement"); aws.ToString(p.ParameterValue) != "ddl" || aws.ToString(p.Source) != "user" || p.ApplyMethod != rdstypes.ApplyMethodImmediate {
			t.Errorf("log_statement after modify: %+v", p)
		}
		user, err := c.DescribeDBClusterParameters(ctx, &rds.DescribeDBClusterParametersInput{DBClusterParameterGroupName: aws.String(group), Source: aws.String("user")})
		if err != nil || len(user.Parameters) != 2 {
			t.Errorf("Source=user lists %d parameters (%v), want 2", len(user.Parameters), err)
		}
		if _, err := c.CopyDBClusterParameterGroup(ctx, &rds.CopyDBClusterParameterGroupInput{SourceDBClusterParameterGroupIdentifier: aws.String(group),
			TargetDBClusterParameterGroupIdentifier: aws.String(group + "-copy"), TargetDBClusterParameterGroupDescription: aws.String("copy")}); err != nil {
			t.Fatal(err)
		}
		if p := findParam(t, clusterParams(ctx, t, c, group+"-copy"), "log_statement"); aws.ToString(p.ParameterValue) != "ddl" {
			t.Errorf("copy lost log_statement: %+v", p)
		}
		if _, err := c.ResetDBClusterParameterGroup(ctx, &rds.ResetDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
			Parameters: []rdstypes.Parameter{{ParameterName: aws.String("log_statement")}}}); err != nil {
			t.Fatal(err)
		}
		if p := findParam(t, clusterParams(ctx, t, c, group), "log_statement"); aws.ToString(p.ParameterValue) != "none" || aws.ToString(p.Source) != "engine-default" {
			t.Errorf("log_statement after reset: %+v", p)
		}
		if _, err := c.ResetDBClusterParameterGroup(ctx, &rds.ResetDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group + "-copy"), ResetAllParameters: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		if user, _ := c.DescribeDBClusterParameters(ctx, &rds.DescribeDBClusterParametersInput{DBClusterParameterGroupName: aws.String(group + "-copy"), Source: aws.String("user")}); len(user.Parameters) != 0 {
			t.Errorf("reset all left %d user values", len(user.Parameters))
		}
		if _, err := c.DeleteDBClusterParameterGroup(ctx, &rds.DeleteDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group + "-copy")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DB parameter groups", func(t *testing.T) {
		if _, err := c.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("params-db"),
			DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("db")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("params-db"),
			Parameters: []rdstypes.Parameter{param("max_connections", "50", rdstypes.ApplyMethodPendingReboot)}}); err != nil {
			t.Fatal(err)
		}
		_, err := c.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("params-db"),
			Parameters: []rdstypes.Parameter{param("max_connections", "5", rdstypes.ApplyMethodPendingReboot)}})
		if code, _ := apiError(t, err); code != "InvalidParameterValue" {
			t.Errorf("max_connections 5: %s", code)
		}
		out, err := c.DescribeDBParameters(ctx, &rds.DescribeDBParametersInput{DBParameterGroupName: aws.String("params-db"), Source: aws.String("user")})
		if err != nil || len(out.Parameters) != 1 || aws.ToString(out.Parameters[0].ParameterValue) != "50" {
			t.Errorf("DB group user values: %+v %v", out, err)
		}
		if _, err := c.DeleteDBParameterGroup(ctx, &rds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String("params-db")}); err != nil {
			t.Fatal(err)
		}
	})
}

// instanceApplyStatus is the instance's parameter group apply status.
func instanceApplyStatus(ctx context.Context, t *testing.T, c *rds.Client, id string) string {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBInstances[0].DBParameterGroups[0].ParameterApplyStatus)
}

// reboot reboots an instance and waits until it is available again.
func reboot(ctx context.Context, t *testing.T, c *rds.Client, id string) {
	t.Helper()
	out, err := c.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(out.DBInstance.DBInstanceStatus); s != "rebooting" {
		t.Errorf("status after RebootDBInstance %q", s)
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestParametersReachPostgreSQL checks that parameter values are real server settings:
// a DB parameter group at instance creation, a dynamic change applied by reload, a static
// one waiting for the reboot, and SCRAM-only password authentication.
func TestParametersReachPostgreSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	if _, err := c.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("effects-db"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("effects")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("effects-db"),
		Parameters: []rdstypes.Parameter{param("max_connections", "50", rdstypes.ApplyMethodPendingReboot), param("statement_timeout", "30000", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	newClusterGroup(ctx, t, c, "effects")
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("effects"),
		Parameters: []rdstypes.Parameter{param("timezone", "Europe/Paris", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("effects"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("master1"), MasterUserPassword: aws.String("Master-pass1"), DBClusterParameterGroupName: aws.String("effects")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("effects-1"), DBClusterIdentifier: aws.String("effects"),
		DBInstanceClass: aws.String("db.t3.medium"), Engine: aws.String("aurora-postgresql"), DBParameterGroupName: aws.String("effects-db")}); err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("effects-1")}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("effects")})
	if err != nil {
		t.Fatal(err)
	}
	cl := out.DBClusters[0]
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)
	if got := aws.ToString(cl.DBClusterParameterGroup); got != "effects" {
		t.Errorf("DBClusterParameterGroup = %q", got)
	}
	conn := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
	for name, want := range map[string]string{"max_connections": "50", "statement_timeout": "30s", "TimeZone": "Europe/Paris"} {
		if got := show(ctx, t, conn, name); got != want {
			t.Errorf("SHOW %s = %s, want %s from the groups", name, got, want)
		}
	}

	// Dynamic: applied by reload. Static: waits for the reboot.
	if _, err := c.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("effects-db"),
		Parameters: []rdstypes.Parameter{param("work_mem", "8192", rdstypes.ApplyMethodImmediate), param("shared_buffers", "4096", rdstypes.ApplyMethodPendingReboot)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "work_mem to be reloaded", func() (bool, error) { return show(ctx, t, conn, "work_mem") == "8MB", nil })
	if got := show(ctx, t, conn, "shared_buffers"); got != "16MB" {
		t.Errorf("shared_buffers changed before the reboot: %s", got)
	}
	if got := instanceApplyStatus(ctx, t, c, "effects-1"); got != "pending-reboot" {
		t.Errorf("ParameterApplyStatus %q, want pending-reboot", got)
	}
	conn.Close(ctx)
	reboot(ctx, t, c, "effects-1")
	conn = srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
	if got := show(ctx, t, conn, "shared_buffers"); got != "32MB" {
		t.Errorf("shared_buffers after the reboot = %s, want 32MB", got)
	}
	if got := instanceApplyStatus(ctx, t, c, "effects-1"); got != "in-sync" {
		t.Errorf("ParameterApplyStatus %q after the reboot", got)
	}

	// SCRAM only: a SCRAM-stored password logs in (the master's is one, whatever
	// password_encryption says), an md5-stored one no longer does.
	if _, err := conn.Exec(ctx, `CREATE ROLE md5er LOGIN PASSWORD 'Md5er-pass1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("effects"),
		Parameters: []rdstypes.Parameter{param("password_encryption", "scram-sha-256", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "password_encryption to be reloaded", func() (bool, error) {
		return show(ctx, t, conn, "password_encryption") == "scram-sha-256", nil
	})
	if _, err := conn.Exec(ctx, `CREATE ROLE scrammer LOGIN PASSWORD 'Scram-pass1'`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("effects"),
		Parameters: []rdstypes.Parameter{param("rds.accepted_password_auth_method", "scram", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "md5 logins to be refused", func() (bool, error) {
		cn, err := srv.tryConnect(ctx, endpoint, port, "md5er", "Md5er-pass1", "postgres")
		if err == nil {
			cn.Close(ctx)
			return false, nil
		}
		return strings.Contains(err.Error(), "password authentication failed"), err
	})
	srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
	scram := srv.connect(ctx, t, endpoint, port, "scrammer", "Scram-pass1", "postgres")
	if got := show(ctx, t, scram, "rds.accepted_password_auth_method"); got != "scram" {
		t.Errorf("rds.accepted_password_auth_method = %s", got)
	}
}
