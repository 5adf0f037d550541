package rds

import (
	"context"
	"slices"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/params"
)

// What Borealis runs, declared once: the engine (Engine), its installed version
// (Config.EngineVersion), the parameter group family (params.Family) and the instance
// classes below. CreateDBCluster and CreateDBInstance accept these and nothing else;
// DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions report them.

// instanceClasses are the Aurora PostgreSQL 15 classes RDS offers, sorted. Borealis does
// not size servers by class yet; the class is validated and reported.
var instanceClasses = func() []string {
	sizes := []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "48xlarge"}
	out := []string{"db.serverless"}
	for _, f := range []string{"r4", "r5", "r6g", "r6gd", "r6i", "r6id", "r7g", "r7i", "r8g", "x2g"} {
		for _, s := range sizes {
			out = append(out, "db."+f+"."+s)
		}
	}
	for _, f := range []string{"t3", "t4g"} {
		out = append(out, "db."+f+".medium", "db."+f+".large")
	}
	slices.Sort(out)
	return out
}()

// The one license model, engine mode, storage type and network type Borealis has.
const (
	licenseModel = "postgresql-license"
	engineMode   = "provisioned"
	storageType  = "aurora"
	networkType  = "IPV4"
)

// offersVersion reports whether an EngineVersion asked for names the installed version:
// the major version alone ("15") or exactly the installed one ("15.18").
func offersVersion(version, installed string) bool {
	major, _, _ := strings.Cut(installed, ".")
	return version == major || version == installed
}

type xmlEngineVersion struct {
	Engine                                    string   `xml:"Engine"`
	MajorEngineVersion                        string   `xml:"MajorEngineVersion"`
	EngineVersion                             string   `xml:"EngineVersion"`
	DBParameterGroupFamily                    string   `xml:"DBParameterGroupFamily"`
	DBEngineDescription                       string   `xml:"DBEngineDescription"`
	DBEngineVersionDescription                string   `xml:"DBEngineVersionDescription"`
	ValidUpgradeTarget                        struct{} `xml:"ValidUpgradeTarget"`
	ExportableLogTypes                        struct{} `xml:"ExportableLogTypes"`
	SupportsLogExportsToCloudwatchLogs        bool     `xml:"SupportsLogExportsToCloudwatchLogs"`
	SupportsReadReplica                       bool     `xml:"SupportsReadReplica"`
	SupportedEngineModes                      []string `xml:"SupportedEngineModes>member"`
	Status                                    string   `xml:"Status"`
	SupportsParallelQuery                     bool     `xml:"SupportsParallelQuery"`
	SupportsGlobalDatabases                   bool     `xml:"SupportsGlobalDatabases"`
	SupportsBabelfish                         bool     `xml:"SupportsBabelfish"`
	SupportsLimitlessDatabase                 bool     `xml:"SupportsLimitlessDatabase"`
	SupportsCertificateRotationWithoutRestart bool     `xml:"SupportsCertificateRotationWithoutRestart"`
	SupportsLocalWriteForwarding              bool     `xml:"SupportsLocalWriteForwarding"`
	SupportsIntegrations                      bool     `xml:"SupportsIntegrations"`
}

// describeEngineVersions lists the one engine version Borealis runs, when the request's
// engine, version, family and filters admit it.
func (s *Service) describeEngineVersions(ctx context.Context, p awsquery.Params) (any, error) {
	if _, marker, err := pagingUpTo(p, 100); err != nil {
		return nil, err
	} else if marker != "" {
		// One version fits on every page: a marker means the list was read.
		return describeEngineVersionsResult{}, nil
	}
	for _, m := range []string{"DefaultOnly", "IncludeAll"} {
		if _, _, err := p.Bool(m); err != nil {
			return nil, err
		}
	}
	fs, err := parseFilters(p)
	if err != nil {
		return nil, err
	}
	installed := s.cfg.EngineVersion
	major, _, _ := strings.Cut(installed, ".")
	v := xmlEngineVersion{
		Engine: Engine, MajorEngineVersion: major, EngineVersion: installed, DBParameterGroupFamily: params.Family,
		DBEngineDescription: "Aurora (PostgreSQL)", DBEngineVersionDescription: "Borealis PostgreSQL " + installed,
		SupportedEngineModes: []string{engineMode}, Status: "available",
		// A new CA is loaded by a reload (ModifyDBInstance without CertificateRotationRestart).
		SupportsCertificateRotationWithoutRestart: true,
	}
	var res describeEngineVersionsResult
	if (p.String("Engine") == "" || p.String("Engine") == Engine) &&
		(p.String("EngineVersion") == "" || offersVersion(p.String("EngineVersion"), installed)) &&
		(p.String("DBParameterGroupFamily") == "" || p.String("DBParameterGroupFamily") == params.Family) &&
		fs.match("engine", v.Engine) && fs.match("engine-version", v.EngineVersion, major) &&
		fs.match("db-parameter-group-family", v.DBParameterGroupFamily) && fs.match("engine-mode", engineMode) &&
		fs.match("status", v.Status) {
		res.DBEngineVersions.Items = []xmlEngineVersion{v}
	}
	return res, nil
}

type describeEngineVersionsResult struct {
	Marker           string `xml:"Marker,omitempty"`
	DBEngineVersions struct {
		Items []xmlEngineVersion `xml:"DBEngineVersion"`
	} `xml:"DBEngineVersions"`
}

type xmlOrderableOption struct {
	Engine                            string   `xml:"Engine"`
	EngineVersion                     string   `xml:"EngineVersion"`
	DBInstanceClass                   string   `xml:"DBInstanceClass"`
	LicenseModel                      string   `xml:"LicenseModel"`
	MultiAZCapable                    bool     `xml:"MultiAZCapable"`
	ReadReplicaCapable                bool     `xml:"ReadReplicaCapable"`
	Vpc                               bool     `xml:"Vpc"`
	SupportsStorageEncryption         bool     `xml:"SupportsStorageEncryption"`
	StorageType                       string   `xml:"StorageType"`
	SupportsIops                      bool     `xml:"SupportsIops"`
	SupportsEnhancedMonitoring        bool     `xml:"SupportsEnhancedMonitoring"`
	SupportsIAMDatabaseAuthentication bool     `xml:"SupportsIAMDatabaseAuthentication"`
	SupportsPerformanceInsights       bool     `xml:"SupportsPerformanceInsights"`
	SupportedEngineModes              []string `xml:"SupportedEngineModes>member"`
	SupportsGlobalDatabases           bool     `xml:"SupportsGlobalDatabases"`
	SupportedNetworkTypes             []string `xml:"SupportedNetworkTypes>member"`
	SupportsClusters                  bool     `xml:"SupportsClusters"`
}

type describeOrderableResult struct {
	OrderableDBInstanceOptions struct {
		Items []xmlOrderableOption `xml:"OrderableDBInstanceOption"`
	} `xml:"OrderableDBInstanceOptions"`
	Marker string `xml:"Marker,omitempty"`
}

// describeOrderableOptions lists the instance classes Borealis accepts for the engine and
// version it runs. Instances live in VPCs only.
func (s *Service) describeOrderableOptions(ctx context.Context, p awsquery.Params) (any, error) {
	engine, err := p.Required("Engine")
	if err != nil {
		return nil, err
	}
	maxRecords, marker, err := pagingUpTo(p, 1000)
	if err != nil {
		return nil, err
	}
	vpc, hasVpc, err := p.Bool("Vpc")
	if err != nil {
		return nil, err
	}
	installed := s.cfg.EngineVersion
	var res describeOrderableResult
	if engine != Engine || hasVpc && !vpc ||
		p.String("EngineVersion") != "" && !offersVersion(p.String("EngineVersion"), installed) ||
		p.String("LicenseModel") != "" && p.String("LicenseModel") != licenseModel {
		return res, nil
	}
	class := p.String("DBInstanceClass")
	for _, c := range instanceClasses {
		if class != "" && c != class || marker != "" && c <= marker {
			continue
		}
		if len(res.OrderableDBInstanceOptions.Items) == maxRecords {
			res.Marker = res.OrderableDBInstanceOptions.Items[maxRecords-1].DBInstanceClass
			break
		}
		res.OrderableDBInstanceOptions.Items = append(res.OrderableDBInstanceOptions.Items, xmlOrderableOption{
			Engine: Engine, EngineVersion: installed, DBInstanceClass: c, LicenseModel: licenseModel, Vpc: true,
			StorageType: storageType, SupportsIAMDatabaseAuthentication: true, SupportedEngineModes: []string{engineMode},
			SupportedNetworkTypes: []string{networkType}, SupportsClusters: true,
		})
	}
	return res, nil
}
