package backup

import (
	"encoding/json"
	"testing"
)

// A cluster's account writes its own repository's catalogue (it holds the cipher pass):
// a set whose label or WAL range pgBackRest would never write is no set at all. A label
// is joined to paths when a restore stages the set, and a restore slices the WAL range.
func TestSetsOfSkipsMalformedSets(t *testing.T) {
	const good = `{"label":"20261205-102937F","type":"full","archive":{"start":"000000010000000000000002","stop":"000000010000000000000003"},"timestamp":{"start":1,"stop":2}}`
	for name, bad := range map[string]string{
		"label climbing out": `{"label":"../../other/backup/other/20261205-102937F","type":"full","archive":{"start":"000000010000000000000002","stop":"000000010000000000000003"},"timestamp":{"start":1,"stop":2}}`,
		"no WAL range":       `{"label":"20261205-102938F","type":"full","archive":{"start":null,"stop":null},"timestamp":{"start":1,"stop":2}}`,
		"short WAL start":    `{"label":"20261205-102939F","type":"full","archive":{"start":"0000","stop":"000000010000000000000003"},"timestamp":{"start":1,"stop":2}}`,
	} {
		var in infoJSON
		if err := json.Unmarshal([]byte(`{"backup":[`+good+`,`+bad+`]}`), &in); err != nil {
			t.Fatal(err)
		}
		sets := setsOf(in, nil)
		if len(sets) != 1 || sets[0].Label != "20261205-102937F" {
			t.Errorf("%s: sets %+v, want only the well-formed one", name, sets)
		}
	}
}
