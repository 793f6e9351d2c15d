// Package variant is the domain of champion/challenger serving: several
// model versions ("variants") served side by side, each with a role: a
// weighted share of live traffic, or a shadow scored on the side and never
// returned. It routes leads to variants (sticky by lead id), and compares
// variants on the same leads: rank correlation, tier agreement and
// confusion, AUC with a DeLong confidence interval for the difference, and
// a verdict. It depends on the standard library and the root package only
// and does no I/O.
package variant

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Role is how a variant takes part in serving.
type Role string

// Roles.
const (
	// Weighted variants share live traffic by weight; the answer a caller
	// gets comes from one of them.
	Weighted Role = "weighted"
	// Shadow variants score leads after the live answer is computed, off
	// the request path; their scores are captured, never returned.
	Shadow Role = "shadow"
)

// Limits of a variant declaration.
const (
	// MaxVariants is the most variants one server serves.
	MaxVariants = 8
	// MaxNameLength bounds a variant name, in bytes.
	MaxNameLength = 63
)

// Spec declares one variant: a name, a model source (a model file, a
// bundle directory or a registry reference) and a role.
type Spec struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	Role   Role   `json:"role"`
	// Weight is a weighted variant's share of live traffic before
	// normalising over all weighted variants (like SageMaker's
	// InitialVariantWeight); 0 takes no traffic unless asked for by name.
	Weight float64 `json:"weight"`
	// Sample is the share of leads (0..1] a shadow variant scores; 1
	// scores every lead.
	Sample float64 `json:"sample,omitempty"`
}

// ParseSpec reads a --variant flag value:
//
//	NAME=SOURCE[:ROLE]
//
// where ROLE is "shadow", "shadow=SHARE" (a sampled share of leads, 0..1),
// or "weight=W" (the default, weight 1). SOURCE may itself hold colons
// (registry:ROOT#NAME@STAGE); only a last segment that reads as a role is
// taken as the role.
func ParseSpec(s string) (Spec, error) {
	name, src, ok := strings.Cut(s, "=")
	if !ok {
		return Spec{}, fmt.Errorf("variant %q: want NAME=SOURCE[:shadow|:shadow=SHARE|:weight=W]", s)
	}
	sp := Spec{Name: strings.TrimSpace(name), Role: Weighted, Weight: 1}
	if i := strings.LastIndexByte(src, ':'); i >= 0 {
		role := src[i+1:]
		switch {
		case role == "shadow":
			sp.Role, sp.Weight, sp.Sample = Shadow, 0, 1
			src = src[:i]
		case strings.HasPrefix(role, "shadow="):
			f, err := strconv.ParseFloat(role[len("shadow="):], 64)
			if err != nil {
				return Spec{}, fmt.Errorf("variant %q: shadow share %q is not a number", sp.Name, role[len("shadow="):])
			}
			sp.Role, sp.Weight, sp.Sample = Shadow, 0, f
			src = src[:i]
		case strings.HasPrefix(role, "weight="):
			f, err := strconv.ParseFloat(role[len("weight="):], 64)
			if err != nil {
				return Spec{}, fmt.Errorf("variant %q: weight %q is not a number", sp.Name, role[len("weight="):])
			}
			sp.Weight = f
			src = src[:i]
		}
	}
	sp.Source = src
	if err := sp.Validate(); err != nil {
		return Spec{}, err
	}
	return sp, nil
}

// String is the flag form of s, read back by ParseSpec.
func (s Spec) String() string {
	if s.Role == Shadow {
		if s.Sample == 1 {
			return s.Name + "=" + s.Source + ":shadow"
		}
		return s.Name + "=" + s.Source + ":shadow=" + strconv.FormatFloat(s.Sample, 'g', -1, 64)
	}
	return s.Name + "=" + s.Source + ":weight=" + strconv.FormatFloat(s.Weight, 'g', -1, 64)
}

// ValidName reports whether name may name a variant: 1 to MaxNameLength
// letters, digits, '-', '_' or '.', as SageMaker variant names (and HTTP
// headers, and V2 model names) allow.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Validate checks one spec on its own.
func (s Spec) Validate() error {
	if !ValidName(s.Name) {
		return fmt.Errorf("variant name %q: want 1 to %d letters, digits, '-', '_' or '.'", s.Name, MaxNameLength)
	}
	switch s.Role {
	case Weighted:
		if !(s.Weight >= 0 && s.Weight <= 1e6) {
			return fmt.Errorf("variant %s: weight %v: want a number in [0, 1000000]", s.Name, s.Weight)
		}
	case Shadow:
		if !(s.Sample > 0 && s.Sample <= 1) {
			return fmt.Errorf("variant %s: shadow share %v: want a share in (0, 1]", s.Name, s.Sample)
		}
	default:
		return fmt.Errorf("variant %s: role %q: want %q or %q", s.Name, s.Role, Weighted, Shadow)
	}
	return nil
}

// ValidateSet checks a whole declaration: unique names, at most
// MaxVariants, and at least one weighted variant with a positive weight
// (someone must answer). The first weighted variant is the champion.
func ValidateSet(specs []Spec) error {
	if len(specs) == 0 {
		return errors.New("no variants")
	}
	if len(specs) > MaxVariants {
		return fmt.Errorf("%d variants, at most %d", len(specs), MaxVariants)
	}
	seen := map[string]bool{}
	var total float64
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("variant name %q is used twice", s.Name)
		}
		seen[s.Name] = true
		if s.Role == Weighted {
			total += s.Weight
		}
	}
	if !(total > 0) {
		return errors.New("no weighted variant has a positive weight: at least one variant must answer live traffic")
	}
	return nil
}

// Champion is the index of the champion in specs: the first weighted
// variant, or -1.
func Champion(specs []Spec) int {
	for i, s := range specs {
		if s.Role == Weighted {
			return i
		}
	}
	return -1
}
