package rds

import "time"

// The XML shapes below follow botocore's rds 2014-10-31 model: member names, list member
// element names (locationName) and types. Only the members Borealis fills are listed.

type xmlCluster struct {
	AllocatedStorage        int      `xml:"AllocatedStorage"`
	AvailabilityZones       []string `xml:"AvailabilityZones>AvailabilityZone"`
	BackupRetentionPeriod   int      `xml:"BackupRetentionPeriod"`
	DatabaseName            string   `xml:"DatabaseName,omitempty"`
	DBClusterIdentifier     string   `xml:"DBClusterIdentifier"`
	DBClusterParameterGroup string   `xml:"DBClusterParameterGroup"`
	DBSubnetGroup           string   `xml:"DBSubnetGroup"`
	Status                  string   `xml:"Status"`
	Endpoint                string   `xml:"Endpoint"`
	ReaderEndpoint          string   `xml:"ReaderEndpoint"`
	MultiAZ                 bool     `xml:"MultiAZ"`
	Engine                  string   `xml:"Engine"`
	EngineVersion           string   `xml:"EngineVersion"`
	Port                    int      `xml:"Port"`
	MasterUsername          string   `xml:"MasterUsername"`
	PreferredBackupWindow   string   `xml:"PreferredBackupWindow,omitempty"`
	// The restorable window, omitted while unknown (no backup yet).
	EarliestRestorableTime     *time.Time `xml:"EarliestRestorableTime,omitempty"`
	LatestRestorableTime       *time.Time `xml:"LatestRestorableTime,omitempty"`
	PreferredMaintenanceWindow string     `xml:"PreferredMaintenanceWindow"`
	DBClusterMembers           struct {
		Items []xmlClusterMember `xml:"DBClusterMember"`
	} `xml:"DBClusterMembers"`
	VpcSecurityGroups                []xmlVpcSGMembership `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	HostedZoneID                     string               `xml:"HostedZoneId"`
	StorageEncrypted                 bool                 `xml:"StorageEncrypted"`
	DbClusterResourceID              string               `xml:"DbClusterResourceId"`
	DBClusterArn                     string               `xml:"DBClusterArn"`
	IAMDatabaseAuthenticationEnabled bool                 `xml:"IAMDatabaseAuthenticationEnabled"`
	ClusterCreateTime                time.Time            `xml:"ClusterCreateTime"`
	EngineMode                       string               `xml:"EngineMode"`
	DeletionProtection               bool                 `xml:"DeletionProtection"`
	HTTPEndpointEnabled              bool                 `xml:"HttpEndpointEnabled"`
	CopyTagsToSnapshot               bool                 `xml:"CopyTagsToSnapshot"`
	CrossAccountClone                bool                 `xml:"CrossAccountClone"`
	AutoMinorVersionUpgrade          bool                 `xml:"AutoMinorVersionUpgrade"`
	NetworkType                      string               `xml:"NetworkType"`
	StorageType                      string               `xml:"StorageType"`
	TagList                          xmlTagList           `xml:"TagList"`
	PendingModifiedValues            *xmlClusterPending   `xml:"PendingModifiedValues,omitempty"`

	// Why the cluster is not available, when serve knows (a reason the reconciler set).
	StatusInfos *xmlClusterStatusInfos `xml:"StatusInfos,omitempty"`
}

// xmlClusterPending is ClusterPendingModifiedValues. A new master password shows as
// "****" until it is applied, as RDS shows it: never the password or its verifier.
type xmlClusterPending struct {
	MasterUserPassword string `xml:"MasterUserPassword,omitempty"`
}

type xmlClusterMember struct {
	DBInstanceIdentifier          string `xml:"DBInstanceIdentifier"`
	IsClusterWriter               bool   `xml:"IsClusterWriter"`
	DBClusterParameterGroupStatus string `xml:"DBClusterParameterGroupStatus"`
	PromotionTier                 int    `xml:"PromotionTier"`
}

type xmlVpcSGMembership struct {
	VpcSecurityGroupID string `xml:"VpcSecurityGroupId"`
	Status             string `xml:"Status"`
}

type xmlEndpoint struct {
	Address      string `xml:"Address"`
	Port         int    `xml:"Port"`
	HostedZoneID string `xml:"HostedZoneId"`
}

type xmlParameterGroupStatus struct {
	DBParameterGroupName string `xml:"DBParameterGroupName"`
	ParameterApplyStatus string `xml:"ParameterApplyStatus"`
}

type xmlCertificateDetails struct {
	CAIdentifier string    `xml:"CAIdentifier"`
	ValidTill    time.Time `xml:"ValidTill"`
}

type xmlInstance struct {
	DBInstanceIdentifier             string                    `xml:"DBInstanceIdentifier"`
	DBInstanceClass                  string                    `xml:"DBInstanceClass"`
	Engine                           string                    `xml:"Engine"`
	DBInstanceStatus                 string                    `xml:"DBInstanceStatus"`
	MasterUsername                   string                    `xml:"MasterUsername"`
	DBName                           string                    `xml:"DBName,omitempty"`
	Endpoint                         *xmlEndpoint              `xml:"Endpoint,omitempty"`
	AllocatedStorage                 int                       `xml:"AllocatedStorage"`
	InstanceCreateTime               time.Time                 `xml:"InstanceCreateTime"`
	PreferredBackupWindow            string                    `xml:"PreferredBackupWindow,omitempty"` // none until backups exist
	BackupRetentionPeriod            int                       `xml:"BackupRetentionPeriod"`
	VpcSecurityGroups                []xmlVpcSGMembership      `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	DBParameterGroups                []xmlParameterGroupStatus `xml:"DBParameterGroups>DBParameterGroup"`
	AvailabilityZone                 string                    `xml:"AvailabilityZone"`
	PreferredMaintenanceWindow       string                    `xml:"PreferredMaintenanceWindow"`
	MultiAZ                          bool                      `xml:"MultiAZ"`
	EngineVersion                    string                    `xml:"EngineVersion"`
	AutoMinorVersionUpgrade          bool                      `xml:"AutoMinorVersionUpgrade"`
	LicenseModel                     string                    `xml:"LicenseModel"`
	PubliclyAccessible               bool                      `xml:"PubliclyAccessible"`
	StorageType                      string                    `xml:"StorageType"`
	DbInstancePort                   int                       `xml:"DbInstancePort"`
	DBClusterIdentifier              string                    `xml:"DBClusterIdentifier"`
	StorageEncrypted                 bool                      `xml:"StorageEncrypted"`
	DbiResourceID                    string                    `xml:"DbiResourceId"`
	CACertificateIdentifier          string                    `xml:"CACertificateIdentifier"`
	CopyTagsToSnapshot               bool                      `xml:"CopyTagsToSnapshot"`
	MonitoringInterval               int                       `xml:"MonitoringInterval"`
	PromotionTier                    int                       `xml:"PromotionTier"`
	DBInstanceArn                    string                    `xml:"DBInstanceArn"`
	IAMDatabaseAuthenticationEnabled bool                      `xml:"IAMDatabaseAuthenticationEnabled"`
	PerformanceInsightsEnabled       bool                      `xml:"PerformanceInsightsEnabled"`
	DeletionProtection               bool                      `xml:"DeletionProtection"`
	NetworkType                      string                    `xml:"NetworkType"`
	CertificateDetails               *xmlCertificateDetails    `xml:"CertificateDetails,omitempty"`
	PendingModifiedValues            *xmlPendingModifiedValues `xml:"PendingModifiedValues,omitempty"`
	StatusInfos                      *xmlStatusInfos           `xml:"StatusInfos,omitempty"`
	TagList                          xmlTagList                `xml:"TagList"`
}

// xmlStatusInfos say why an instance is not available (RDS uses the list for read
// replication only; SDKs read any StatusType).
type xmlStatusInfos struct {
	Items []xmlStatusInfo `xml:"DBInstanceStatusInfo"`
}

// xmlClusterStatusInfos say why a cluster is not available (the model's
// DBClusterStatusInfo, "reserved for future use" by RDS).
type xmlClusterStatusInfos struct {
	Items []xmlStatusInfo `xml:"DBClusterStatusInfo"`
}

type xmlStatusInfo struct {
	StatusType string `xml:"StatusType"`
	Normal     bool   `xml:"Normal"`
	Status     string `xml:"Status"`
	Message    string `xml:"Message"`
}

type clusterResult struct {
	DBCluster xmlCluster `xml:"DBCluster"`
}

type instanceResult struct {
	DBInstance xmlInstance `xml:"DBInstance"`
}

type describeClustersResult struct {
	Marker     string `xml:"Marker,omitempty"`
	DBClusters struct {
		Items []xmlCluster `xml:"DBCluster"`
	} `xml:"DBClusters"` // always present, so an empty answer reads as [] and not as absent
}

type describeInstancesResult struct {
	Marker      string `xml:"Marker,omitempty"`
	DBInstances struct {
		Items []xmlInstance `xml:"DBInstance"`
	} `xml:"DBInstances"`
}

// xmlPendingModifiedValues lists changes waiting for a reboot; RDS returns it only when
// there are some.
type xmlPendingModifiedValues struct {
	CACertificateIdentifier string `xml:"CACertificateIdentifier,omitempty"`
}

type xmlCertificate struct {
	CertificateIdentifier     string     `xml:"CertificateIdentifier"`
	CertificateType           string     `xml:"CertificateType"`
	Thumbprint                string     `xml:"Thumbprint"`
	ValidFrom                 time.Time  `xml:"ValidFrom"`
	ValidTill                 time.Time  `xml:"ValidTill"`
	CertificateArn            string     `xml:"CertificateArn"`
	CustomerOverride          bool       `xml:"CustomerOverride"`
	CustomerOverrideValidTill *time.Time `xml:"CustomerOverrideValidTill,omitempty"`
}

type describeCertificatesResult struct {
	DefaultCertificateForNewLaunches string `xml:"DefaultCertificateForNewLaunches"`
	Certificates                     struct {
		Items []xmlCertificate `xml:"Certificate"`
	} `xml:"Certificates"`
	Marker string `xml:"Marker,omitempty"`
}

type modifyCertificatesResult struct {
	Certificate *xmlCertificate `xml:"Certificate,omitempty"`
}
