package tasks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

var rateText = regexp.MustCompile(`^(\d{1,9})/(s|m|h)$`)

var rateUnits = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}

// parseRate reads "<count>/<s|m|h>" (such as "10/s") as a limiter that allows a burst of count,
// refilled evenly over the period: the same rates as libs/tasks' parseRate.
func parseRate(text string) (*rate.Limiter, error) {
	match := rateText.FindStringSubmatch(strings.TrimSpace(text))
	if match == nil {
		return nil, fmt.Errorf("not a rate: %q (expected <count>/<s|m|h> with a count of at least 1, such as 10/s)", text)
	}
	count, _ := strconv.Atoi(match[1])
	if count == 0 {
		return nil, fmt.Errorf("not a rate: %q (the count must be at least 1)", text)
	}
	return rate.NewLimiter(rate.Limit(float64(count)/rateUnits[match[2]].Seconds()), count), nil
}
