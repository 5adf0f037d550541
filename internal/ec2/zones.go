package ec2

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// zoneLetters are the availability zones Borealis has in its region: the one declaration
// that default subnets, CreateSubnet and DescribeAvailabilityZones follow. A zone is a name
// for placement here; every zone runs on this host.
var zoneLetters = []string{"a", "b", "c"}

// AvailabilityZones returns the names of region's availability zones (us-east-1a, ...).
func AvailabilityZones(region string) []string {
	out := make([]string, len(zoneLetters))
	for i, l := range zoneLetters {
		out[i] = region + l
	}
	return out
}

// zoneID is the zone's id as AWS forms them (use1-az1): the region's short form and the
// zone's number.
func zoneID(region string, i int) string {
	short := region
	if parts := strings.Split(region, "-"); len(parts) == 3 {
		short = parts[0] + directionShort(parts[1]) + parts[2]
	}
	return short + "-az" + strconv.Itoa(i+1)
}

// directionShort abbreviates a region's direction as AWS's zone ids do: southeast -> se,
// central -> c.
func directionShort(dir string) string {
	var b strings.Builder
	for dir != "" {
		matched := false
		for _, w := range []string{"north", "south", "east", "west", "central"} {
			if rest, ok := strings.CutPrefix(dir, w); ok {
				b.WriteByte(w[0])
				dir, matched = rest, true
				break
			}
		}
		if !matched {
			b.WriteByte(dir[0])
			break
		}
	}
	return b.String()
}

type xmlAvailabilityZone struct {
	OptInStatus        string `xml:"optInStatus"`
	ZoneName           string `xml:"zoneName"`
	ZoneID             string `xml:"zoneId"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	ZoneType           string `xml:"zoneType"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	MessageSet         []struct {
		Message string `xml:"message"`
	} `xml:"messageSet>item"`
}

type describeAvailabilityZonesResult struct {
	AvailabilityZones []xmlAvailabilityZone `xml:"availabilityZoneInfo>item"`
}

// zoneNotFound is EC2's answer for a zone name or id that is not in the region.
func zoneNotFound(what string) error {
	return awsquery.InvalidParameterValue("The zone '%s' does not exist.", awsquery.Clip(what))
}

// describeAvailabilityZones lists the region's zones. Borealis has no Local or Wavelength
// Zones, so AllAvailabilityZones changes nothing; it is still read as a boolean.
func (s *Service) describeAvailabilityZones(_ context.Context, p awsquery.Params) (any, error) {
	if _, _, err := p.Bool("AllAvailabilityZones"); err != nil {
		return nil, err
	}
	fs, err := parseFilters(p, "zone-name", "zone-id", "region-name", "state", "opt-in-status", "zone-type",
		"group-name", "network-border-group", "message", "parent-zone-name", "parent-zone-id")
	if err != nil {
		return nil, err
	}
	region := s.cfg.Region
	var zones []xmlAvailabilityZone
	for i, name := range AvailabilityZones(region) {
		zones = append(zones, xmlAvailabilityZone{
			OptInStatus: "opt-in-not-required", ZoneName: name, ZoneID: zoneID(region, i), GroupName: region + "-zg-1",
			NetworkBorderGroup: region, ZoneType: "availability-zone", ZoneState: "available", RegionName: region,
		})
	}
	names, ids := list(p, "ZoneName"), list(p, "ZoneId")
	for _, n := range names {
		if !slices.ContainsFunc(zones, func(z xmlAvailabilityZone) bool { return z.ZoneName == n }) {
			return nil, zoneNotFound(n)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(zones, func(z xmlAvailabilityZone) bool { return z.ZoneID == id }) {
			return nil, zoneNotFound(id)
		}
	}
	var res describeAvailabilityZonesResult
	for _, z := range zones {
		// Names and ids together select the zones either names, as EC2 does.
		if (len(names) > 0 || len(ids) > 0) && !slices.Contains(names, z.ZoneName) && !slices.Contains(ids, z.ZoneID) {
			continue
		}
		if fs.match("zone-name", z.ZoneName) && fs.match("zone-id", z.ZoneID) && fs.match("region-name", z.RegionName) &&
			fs.match("state", z.ZoneState) && fs.match("opt-in-status", z.OptInStatus) && fs.match("zone-type", z.ZoneType) &&
			fs.match("group-name", z.GroupName) && fs.match("network-border-group", z.NetworkBorderGroup) &&
			fs.match("message") && fs.match("parent-zone-name") && fs.match("parent-zone-id") && fs.matchTags(nil) {
			res.AvailabilityZones = append(res.AvailabilityZones, z)
		}
	}
	return res, nil
}
