package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseSchedule reads a sync's schedule: "manual", "stream", a five-field cron
// expression or a descriptor such as "@hourly" (optionally preceded by
// CRON_TZ=Zone), or "every <duration>" such as "every 1h30m". The cron
// descriptor "@every 10m" is read as "every 10m".
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == ScheduleManual:
		return Schedule{Kind: ScheduleManual}, nil
	case s == ScheduleStream:
		return Schedule{Kind: ScheduleStream}, nil
	case strings.HasPrefix(s, "every "), strings.HasPrefix(s, "@every "):
		text := strings.TrimSpace(s[strings.IndexByte(s, ' ')+1:])
		d, err := time.ParseDuration(text)
		if err != nil {
			return Schedule{}, fmt.Errorf("invalid interval %q: %v", text, err)
		}
		if d <= 0 {
			return Schedule{}, fmt.Errorf("interval %q must be positive", text)
		}
		return Schedule{Kind: ScheduleInterval, Every: d}, nil
	}
	if err := checkCron(s); err != nil {
		return Schedule{}, fmt.Errorf("invalid cron expression %q: %v", s, err)
	}
	return Schedule{Kind: ScheduleCron, Cron: s}, nil
}

func checkCron(s string) (err error) {
	// robfig/cron slices past the end of "CRON_TZ=Zone" when no expression
	// follows, and a schedule must not take the process down.
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		if !strings.Contains(s, " ") {
			return fmt.Errorf("a time zone must be followed by an expression")
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	_, err = cron.ParseStandard(s)
	return err
}

// String returns the schedule as it would be written in a sync.
func (s Schedule) String() string {
	switch s.Kind {
	case ScheduleCron:
		return s.Cron
	case ScheduleInterval:
		return "every " + s.Every.String()
	case ScheduleStream:
		return ScheduleStream
	}
	return ScheduleManual
}
