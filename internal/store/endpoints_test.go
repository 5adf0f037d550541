package store

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestEndpointNamesListEveryClusterAndInstanceEndpoint(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	if n, err := s.EndpointNames(ctx); err != nil || len(n) != 0 {
		t.Fatalf("empty store: %v %v", n, err)
	}
	if err := s.CreateCluster(ctx, Cluster{ID: "c1", Endpoint: "c1.cluster-x.d", ReaderEndpoint: "c1.cluster-ro-x.d", Port: 5433}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateInstance(ctx, Instance{ID: "i1", ClusterID: "c1", Endpoint: "i1.x.d"},
		func(_ Cluster, _ []Instance) (Instance, error) {
			return Instance{ID: "i1", ClusterID: "c1", Endpoint: "i1.x.d"}, nil
		}); err != nil {
		t.Fatal(err)
	}
	got, err := s.EndpointNames(ctx)
	slices.SortFunc(got, func(a, b EndpointName) int { return strings.Compare(a.Name, b.Name) })
	if want := []EndpointName{{"c1.cluster-ro-x.d", false, 5433}, {"c1.cluster-x.d", true, 5433}, {"i1.x.d", false, 5433}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
	if err := s.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCluster(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EndpointNames(ctx); err != nil || len(n) != 0 {
		t.Fatalf("after deletion: %v %v", n, err)
	}
}
