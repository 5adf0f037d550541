package store

import "context"

// EndpointName is an endpoint's name, and whether it is a cluster endpoint (the others,
// reader and instance endpoints, may have addresses of their own).
type EndpointName struct {
	Name    string
	Cluster bool
	Port    int // its cluster's
}

// EndpointNames lists the endpoint names of every cluster (its cluster and reader
// endpoints) and instance that exists: the names the DNS server answers for. It reads three
// fields, not whole records, since it runs for DNS queries.
func (s *Store) EndpointNames(ctx context.Context) ([]EndpointName, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT json_extract(doc, '$.endpoint'), 1, json_extract(doc, '$.port') FROM clusters
		UNION ALL SELECT json_extract(doc, '$.reader_endpoint'), 0, json_extract(doc, '$.port') FROM clusters
		UNION ALL SELECT json_extract(i.doc, '$.endpoint'), 0, json_extract(c.doc, '$.port')
			FROM instances i LEFT JOIN clusters c ON c.id = i.cluster_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []EndpointName
	for rows.Next() {
		var n *string
		var cluster bool
		var port *int64
		if err := rows.Scan(&n, &cluster, &port); err != nil {
			return nil, err
		}
		if n != nil && *n != "" {
			e := EndpointName{Name: *n, Cluster: cluster}
			if port != nil {
				e.Port = int(*port)
			}
			names = append(names, e)
		}
	}
	return names, rows.Err()
}
