package main

import (
	"flag"
	"fmt"

	"github.com/leadscore/leadscore"
)

// biasFlags are the facet flags of `leadscore baseline` and `bundle
// init`: the groups whose treatment by the model is monitored.
type biasFlags struct {
	facets       []leadscore.Facet
	positive     string
	groupBy      string
	minGroupRows int
}

// addFlags registers --facet (repeatable), --positive, --group-by and
// --min-group-rows on fs.
func (b *biasFlags) addFlags(fs *flag.FlagSet) {
	fs.Func("facet", "a facet whose groups are compared, each with the rest: `NAME=V1,V2;V3` (groups of values) or NAME<NUMBER (below and at or above); repeatable",
		func(s string) error {
			f, err := leadscore.ParseFacet(s)
			if err != nil {
				return err
			}
			b.facets = append(b.facets, f)
			return nil
		})
	fs.StringVar(&b.positive, "positive", "tier>=4", "with --facet: the positive prediction, `tier>=N` or probability>=P")
	fs.StringVar(&b.groupBy, "group-by", "", "with --facet: the `feature` whose values stratify CDDPL")
	fs.IntVar(&b.minGroupRows, "min-group-rows", leadscore.DefaultMinGroupRows, "with --facet: fewest rows of a group (and of the rest) before a bias metric is computed")
}

// config returns the bias configuration the flags give, nil without
// --facet, checked against the model's features.
func (b *biasFlags) config(features []string) (*leadscore.BiasConfig, error) {
	if len(b.facets) == 0 {
		return nil, nil
	}
	pos, err := leadscore.ParsePositive(b.positive)
	if err != nil {
		return nil, fmt.Errorf("%w: --positive: %w", errUsage, err)
	}
	cfg := &leadscore.BiasConfig{Facets: b.facets, Positive: pos, GroupBy: b.groupBy, MinGroupRows: b.minGroupRows}
	if err := cfg.Validate(features); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}
