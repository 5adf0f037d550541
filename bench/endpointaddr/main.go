// Command endpointaddr prints the address an endpoint name listens at, as serve's DNS
// answers it (package epaddr), for benchmark scripts run where serve's DNS is off: the
// endpoint address itself for a cluster endpoint, the name's own loopback address for a
// reader or instance endpoint.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/borealis-db/borealis/internal/epaddr"
)

func main() {
	base := flag.String("endpoint-addr", "127.0.0.1", "serve's --endpoint-addr")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: endpointaddr [-endpoint-addr ADDR] NAME")
		os.Exit(2)
	}
	name := flag.Arg(0)
	cluster := strings.Contains(name, ".cluster-") && !strings.Contains(name, ".cluster-ro-")
	bases := epaddr.Parse([]string{*base})
	fmt.Println(epaddr.Addrs(bases, name, cluster)[0])
}
