package forest

import (
	"fmt"
	"math"
	"strings"
)

// link is how an objective turns margins into predictions and how its
// base_score becomes a margin.
type link uint8

const (
	linkIdentity link = iota // value = margin
	linkLogistic             // value = sigmoid(margin); base = logit(base_score)
	linkLogitRaw             // value = margin; base = base_score (XGBoost 1.7 applies no logit)
	linkExp                  // value = exp(margin); base = log(base_score)
	linkHinge                // value = margin > 0 ? 1 : 0
	linkSoftprob             // value = softmax over groups
	linkSoftmax              // value = argmax over groups
)

// objectiveLink maps every objective this package evaluates to its link.
// An objective missing here is refused at load time rather than scored
// wrongly.
func objectiveLink(name string) (link, error) {
	switch name {
	case "binary:logistic", "reg:logistic":
		return linkLogistic, nil
	case "binary:logitraw":
		return linkLogitRaw, nil
	case "binary:hinge":
		return linkHinge, nil
	case "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:pseudohubererror",
		"reg:absoluteerror", "reg:quantileerror":
		return linkIdentity, nil
	case "count:poisson", "reg:gamma", "reg:tweedie":
		return linkExp, nil
	case "multi:softprob":
		return linkSoftprob, nil
	case "multi:softmax":
		return linkSoftmax, nil
	}
	if strings.HasPrefix(name, "rank:") {
		return linkIdentity, nil
	}
	return 0, invalid("unsupported objective %q", name)
}

// baseMargin converts base_score from the objective's output space to a
// margin the way XGBoost's ProbToMargin does, in float32.
func baseMargin(l link, base float32) (float32, error) {
	switch l {
	case linkLogistic:
		if !(base > 0 && base < 1) {
			return 0, invalid("base_score %v must be in (0, 1) for a logistic objective", base)
		}
		return float32(-math.Log(float64(1/base - 1))), nil
	case linkExp:
		if !(base > 0) {
			return 0, invalid("base_score %v must be positive for a log-link objective", base)
		}
		return float32(math.Log(float64(base))), nil
	}
	return base, nil
}

// sigmoid is XGBoost's 1/(1+exp(-x)) in float32, with its clamp of the
// exponent at 88.7 so that very negative margins give a tiny positive
// probability rather than 0.
func sigmoid(x float32) float32 {
	e := min(-x, 88.7)
	return 1 / (float32(math.Exp(float64(e))) + 1)
}

// transform turns one row's margins (len NumGroup) into its predictions,
// writing NumOutput values to out. out may alias margin.
func (l link) transform(margin, out []float32) {
	switch l {
	case linkLogistic:
		for i, m := range margin {
			out[i] = sigmoid(m)
		}
	case linkExp:
		for i, m := range margin {
			out[i] = float32(math.Exp(float64(m)))
		}
	case linkHinge:
		for i, m := range margin {
			out[i] = 0
			if m > 0 {
				out[i] = 1
			}
		}
	case linkSoftprob:
		mx := margin[0]
		for _, m := range margin[1:] {
			mx = max(mx, m)
		}
		var sum float64 // XGBoost sums the float32 exponentials in double
		for i, m := range margin {
			e := float32(math.Exp(float64(m - mx)))
			out[i] = e
			sum += float64(e)
		}
		for i := range margin {
			out[i] /= float32(sum)
		}
	case linkSoftmax:
		best := 0
		for i, m := range margin {
			if m > margin[best] {
				best = i
			}
		}
		out[0] = float32(best)
	default:
		if len(margin) > 0 {
			copy(out, margin)
		}
	}
}

// String names the link for diagnostics.
func (l link) String() string {
	names := [...]string{"identity", "logistic", "logitraw", "exp", "hinge", "softprob", "softmax"}
	if int(l) < len(names) {
		return names[l]
	}
	return fmt.Sprintf("link(%d)", l)
}
