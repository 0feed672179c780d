package service

import (
	"slices"
	"time"

	"correio.dev/peers/go/protocol"
)

// InstanceInfo is one live instance of a service, as its announcements describe it.
type InstanceInfo struct {
	Service   string
	Version   int64
	Instance  string
	Actions   []string // sorted
	Events    []string // sorted
	FirstSeen time.Time
	LastSeen  time.Time
}

// DownReason says why an instance is down.
type DownReason string

const (
	// DownAnnounced: the instance announced that it is leaving.
	DownAnnounced DownReason = "announced"
	// DownExpired: the instance was silent for liveness × interval.
	DownExpired DownReason = "expired"
	// DownStopped: this very instance stopped.
	DownStopped DownReason = "stopped"
)

type changeKind int

const (
	changeUp changeKind = iota
	changeDown
	changeChanged
)

// change is what one announcement or expiry did to the table.
type change struct {
	kind     changeKind
	info     InstanceInfo
	previous InstanceInfo
	reason   DownReason
}

// peerTable is the pure core of announce-based discovery (libs/service PeerTable.ts): it applies
// announcements and expiry and says what changed. Not safe for concurrent use.
type peerTable struct {
	ttl   time.Duration
	max   int
	peers map[string]InstanceInfo
}

func newPeerTable(ttl time.Duration, max int) *peerTable {
	return &peerTable{ttl: ttl, max: max, peers: map[string]InstanceInfo{}}
}

func (t *peerTable) apply(a protocol.ServiceAnnounce, now time.Time) []change {
	known, seen := t.peers[a.Instance]
	if a.State == protocol.ServiceAnnounceStateDown {
		if !seen {
			return nil
		}
		delete(t.peers, a.Instance)
		known.LastSeen = now
		return []change{{kind: changeDown, info: known, reason: DownAnnounced}}
	}
	// Anyone can publish announcements: a new instance is ignored while the table is full.
	if !seen && len(t.peers) >= t.max {
		return nil
	}
	info := InstanceInfo{
		Service: a.Service, Version: a.Version, Instance: a.Instance,
		Actions: sorted(a.Actions), Events: sorted(a.Events), FirstSeen: now, LastSeen: now,
	}
	if seen {
		info.FirstSeen = known.FirstSeen
	}
	t.peers[info.Instance] = info
	switch {
	case !seen:
		return []change{{kind: changeUp, info: info}}
	case sameOffer(known, info):
		return nil
	}
	return []change{{kind: changeChanged, info: info, previous: known}}
}

// expire marks down every instance silent for longer than the TTL.
func (t *peerTable) expire(now time.Time) []change {
	var changes []change
	for instance, info := range t.peers {
		if now.Sub(info.LastSeen) > t.ttl {
			delete(t.peers, instance)
			changes = append(changes, change{kind: changeDown, info: info, reason: DownExpired})
		}
	}
	return changes
}

// clear forgets everyone when this instance stops: only self is reported (down, stopped).
func (t *peerTable) clear(self string, now time.Time) []change {
	own, seen := t.peers[self]
	clear(t.peers)
	if !seen {
		return nil
	}
	own.LastSeen = now
	return []change{{kind: changeDown, info: own, reason: DownStopped}}
}

func (t *peerTable) has(instance string) bool {
	_, seen := t.peers[instance]
	return seen
}

// instances lists the live instances (of service, unless ""), by service then instance.
func (t *peerTable) instances(service string) []InstanceInfo {
	var all []InstanceInfo
	for _, info := range t.peers {
		if service == "" || info.Service == service {
			all = append(all, info)
		}
	}
	slices.SortFunc(all, func(a, b InstanceInfo) int {
		if a.Service != b.Service {
			return compareStrings(a.Service, b.Service)
		}
		return compareStrings(a.Instance, b.Instance)
	})
	return all
}

// subscribers are the services (groups) with a live instance that handles event, sorted.
func (t *peerTable) subscribers(event string) []string {
	var groups []string
	for _, info := range t.peers {
		if slices.Contains(info.Events, event) && !slices.Contains(groups, info.Service) {
			groups = append(groups, info.Service)
		}
	}
	slices.Sort(groups)
	return groups
}

func (t *peerTable) isUp(service string) bool {
	for _, info := range t.peers {
		if info.Service == service {
			return true
		}
	}
	return false
}

func sameOffer(a, b InstanceInfo) bool {
	return a.Service == b.Service && a.Version == b.Version && slices.Equal(a.Actions, b.Actions) && slices.Equal(a.Events, b.Events)
}

func sorted(items []string) []string {
	copied := slices.Clone(items)
	slices.Sort(copied)
	return copied
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
