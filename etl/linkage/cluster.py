"""Clustering of scored pairs into persons, with guards against over-linking.

Connected components over every pair above a threshold chain people together through weak links
(A–B strong, B–C weak, so A and C merge although they disagree). Here pairs are taken strongest
first and two clusters merge only when every pair of distinct values across them is compatible:
at most one valid SNILS, first names alike, birth dates within one keying error, one sex. Clusters
that share a valid SNILS may merge over one conflicting attribute, not two. Manual decisions come
first: a "match" joins two records whatever the guards say, a "no match" keeps them apart for good.
Persons that already exist (incremental runs) are never merged automatically; such a proposal goes
to review.

Ambiguity goes to review, not to a merge: a record — or a cluster, through any of its records — that
would join a person while another person it fits almost as well (within `ambiguity_margin` bits)
could not be that same person (two SNILS, a guard conflict) is held with both candidates; so is a
pair whose only evidence is full name and birth date against another municipality and address, with
SNILS on one side at most, where the name is common enough for a namesake to be likely (dedup.link
flags those pairs).
"""
from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler


class Profile:
    """The distinct values a would-be person holds (a plain slotted class: a million are made per run)."""
    __slots__ = ("snils", "first", "dob", "year", "sex", "fixed")

    def __init__(self, snils: set, first: set, dob: set, year: set, sex: set, fixed: int | None):
        self.snils = snils      # valid SNILS
        self.first = first      # first-name keys, initials included
        self.dob = dob          # exact birth dates (not year-only, not 01.01 placeholders)
        self.year = year
        self.sex = sex
        self.fixed = fixed      # the register person this cluster already is

    def absorb(self, other: "Profile") -> None:
        self.snils |= other.snils
        self.first |= other.first
        self.dob |= other.dob
        self.year |= other.year
        self.sex |= other.sex
        self.fixed = self.fixed if self.fixed is not None else other.fixed


@dataclass
class Decision:
    l: int
    r: int
    weight: float
    outcome: str  # link, review, or refused:<reason>


def _swap(iso: str) -> str:
    return f"{iso[:4]}-{iso[8:10]}-{iso[5:7]}"


class Clusterer:
    def __init__(self, records: list[tuple], guards: dict):
        """records[rid] = (snils, first_key, dob_iso, dob_year, dob_imprecise, sex, fixed)."""
        self.records = records
        self.guards = guards
        self.parent = list(range(len(records)))
        self.size = [1] * len(records)
        self.profiles: dict[int, Profile] = {}
        self.members: dict[int, list[int]] | None = None
        self.cannot: dict[int, set[int]] = {}
        # cluster root → its records' rival lists (each strongest first; kept apart, not merged and
        # sorted again at every union: that cost 2 s at a million records)
        self.crivals: dict[int, list[list[tuple[int, float]]]] = {}
        self.decisions: list[Decision] = []
        self._jw = JaroWinkler.normalized_similarity
        self._dl = DamerauLevenshtein.distance

    # ---- union-find --------------------------------------------------------------------------
    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def profile(self, root: int) -> Profile:
        p = self.profiles.get(root)
        if p is None:
            snils, first, dob, year, imprecise, sex, fixed = self.records[root]
            p = Profile({snils} if snils else set(), {first} if first else set(),
                        {dob} if dob and not imprecise else set(), {year} if year else set(),
                        {sex} if sex else set(), fixed)
            self.profiles[root] = p
        return p

    def _union(self, a: int, b: int) -> int:
        if self.size[a] < self.size[b]:
            a, b = b, a
        pa, pb = self.profile(a), self.profile(b)
        self.parent[b] = a
        self.size[a] += self.size[b]
        pa.absorb(pb)
        del self.profiles[b]
        if self.crivals and b in self.crivals:
            self._join_rivals(a, b)
        if self.members is not None:
            self.members.setdefault(a, [a]).extend(self.members.pop(b, [b]))
        return a

    # ---- guards ------------------------------------------------------------------------------
    def conflicts(self, pa: Profile, pb: Profile) -> list[str]:
        g = self.guards
        out = []
        if g.get("first_name", True) and pa.first and pb.first and pa.first != pb.first:
            thr, edits = g["first_name_min_similarity"], g["first_name_max_edits"]
            for x in pa.first:
                for y in pb.first:
                    if x == y:
                        continue
                    if len(x) == 1 or len(y) == 1:  # an initial agrees with its own letter only
                        ok = x[0] == y[0]
                    else:
                        ok = self._jw(x, y) >= thr or self._dl(x, y) <= edits
                    if not ok:
                        out.append("first_name")
                        break
                else:
                    continue
                break
        if g.get("birth_date", True) and self._dates_conflict(pa, pb):
            out.append("birth_date")
        if g.get("sex") and pa.sex and pb.sex and pa.sex != pb.sex:
            out.append("sex")
        return out

    def _dates_conflict(self, pa: Profile, pb: Profile) -> bool:
        if pa.dob and pb.dob and pa.dob != pb.dob:
            edits = self.guards["birth_date_max_edits"]
            return any(x != y and _swap(x) != y and self._dl(x, y) > edits for x in pa.dob for y in pb.dob)
        if pa.year and pb.year and pa.year != pb.year:
            return any(x != y and self._dl(str(x), str(y)) > 1 for x in pa.year for y in pb.year)
        return False

    def _refusal(self, a: int, b: int) -> str | None:
        pa, pb = self.profile(a), self.profile(b)
        if self.guards.get("one_valid_snils") and len(pa.snils | pb.snils) > 1:
            return "two_snils"
        if self.cannot and self._cannot_link(a, b):
            return "manual_no_match"
        if pa.fixed is not None and pb.fixed is not None and pa.fixed != pb.fixed:
            return "existing_persons"
        found = self.conflicts(pa, pb)
        shared_snils = bool(pa.snils) and pa.snils == pb.snils
        if not found or (shared_snils and len(found) <= 1):
            return None
        return ("snils_conflict:" if shared_snils else "conflict:") + "+".join(found)

    def _cannot_link(self, a: int, b: int) -> bool:
        small, other = (a, b) if self.size[a] <= self.size[b] else (b, a)
        for x in self.members.get(small, [small]):
            for y in self.cannot.get(x, ()):
                if self.find(y) == other:
                    return True
        return False

    # ---- the run -----------------------------------------------------------------------------
    def seed(self, groups: list[list[int]]) -> None:
        """Records known to be one person already (existing register persons): joined unconditionally."""
        records = self.records
        for group in groups:
            first = records[group[0]]
            uniform = all(records[x] == first for x in group[1:])  # parent pointers only, no profile needed
            root = self.find(group[0])
            for x in group[1:]:
                y = self.find(x)
                if y == root:
                    continue
                if uniform:
                    self.parent[y] = root
                    self.size[root] += self.size[y]
                else:
                    root = self._union(root, y)

    def apply_manual(self, matches: list[tuple[int, int]], non_matches: list[tuple[int, int]]) -> None:
        if non_matches:
            self.members = {}
            for x in range(len(self.parent)):
                r = self.find(x)
                if r != x:
                    self.members.setdefault(r, [r]).append(x)
            for x, y in non_matches:
                self.cannot.setdefault(x, set()).add(y)
                self.cannot.setdefault(y, set()).add(x)
        for x, y in matches:
            a, b = self.find(x), self.find(y)
            if a != b:
                self._union(a, b)

    def _ambiguous(self, a: int, b: int, w: float) -> bool:
        """Cluster a would join cluster b at weight w: does a record of a fit, within the margin, a
        cluster that may be a's but can never be b's? (A cluster is asked, not only the record on the
        edge: two records of one person, one fitting b and one fitting c as well, are that person
        fitting both.)"""
        for found in self.crivals[a]:
            for y, w2 in found:
                if w2 < w - self.margin:
                    break  # a record's rivals are sorted by weight, strongest first
                c = self.find(y)
                if c in (a, b):
                    continue
                if self._refusal(a, c) is None and self._refusal(b, c) is not None:
                    return True
        return False

    def _join_rivals(self, a: int, b: int) -> None:
        """Cluster b joined a: a's rival lists are now b's too."""
        found = self.crivals.pop(b)
        if a in self.crivals:
            self.crivals[a].extend(found)
        else:
            self.crivals[a] = found

    def _unswap(self, l: int, r: int, a: int, b: int) -> None:
        """A record with surname and first name swapped (its first name is the other's surname) joins
        under the other's first name, so the first-name guard compares what the names really are."""
        for other, root in ((r, a), (l, b)):
            if self.size[root] == 1 and root not in self.profiles:
                self.profile(root).first = {self.records[other][1]} if self.records[other][1] else set()
                return

    def run(self, edges, link_weight: float, review_weight: float, rivals: dict | None = None,
            namesakes: set | None = None, margin: float = 0.0, swapped: set | None = None) -> None:
        """edges: (l, r, weight) sorted by weight descending, then l, r (a deterministic order): every pair
        at or above the review weight, and every pair sharing a valid SNILS whatever its weight.
        rivals: record → [(other record, weight)] strongest first, for the records that may be
        ambiguous (without a valid SNILS, two or more candidates); namesakes: pairs (l, r) to hold;
        swapped: pairs where one record has surname and first name the other way round."""
        weak = []
        namesakes, self.margin = namesakes or set(), margin
        find, parent, size, profiles, records = self.find, self.parent, self.size, self.profiles, self.records
        for x, found in (rivals or {}).items():  # a cluster's rivals are its records' (seeded persons too)
            self.crivals.setdefault(find(x), []).append(found)
        crivals = self.crivals
        for l, r, w in edges:
            if w < link_weight:
                weak.append((l, r, w))
                continue
            # a root is its own parent: asked inline, a call saved on most of a million edges
            a = l if parent[l] == l else find(l)
            b = r if parent[r] == r else find(r)
            if a == b:
                continue
            if swapped and (l, r) in swapped:
                self._unswap(l, r, a, b)
            if namesakes and (l, r) in namesakes and self._refusal(a, b) is None:
                self.decisions.append(Decision(l, r, w, "review:namesake"))
                continue
            # (most records have no rivals: asked here, not in a call, for a million edges)
            if (a in crivals and self._ambiguous(a, b, w)) or (b in crivals and self._ambiguous(b, a, w)):
                self.decisions.append(Decision(l, r, w, "review:ambiguous"))
                continue
            # Fast path: a cluster without a profile holds only records equal to its root's; two such
            # clusters saying the same thing cannot conflict, and stay uniform when joined.
            if (a not in profiles and b not in profiles and records[a] == records[b] and records[a][6] is None
                    and not self.cannot):
                if size[a] < size[b]:
                    a, b = b, a
                parent[b] = a
                size[a] += size[b]
                if b in crivals:
                    self._join_rivals(a, b)
                self.decisions.append(Decision(l, r, w, "link"))
                continue
            reason = self._refusal(a, b)
            if reason is None:
                self._union(a, b)
                self.decisions.append(Decision(l, r, w, "link"))
            elif reason.startswith("snils_conflict") or reason == "existing_persons":
                self.decisions.append(Decision(l, r, w, f"review:{reason}"))
            else:
                self.decisions.append(Decision(l, r, w, f"refused:{reason}"))
        for l, r, w in weak:  # the uncertain band: a person should look, unless the pair is joined anyway
            if self.find(l) == self.find(r):
                continue
            if self.records[l][0] and self.records[l][0] == self.records[r][0]:
                self.decisions.append(Decision(l, r, w, "review:snils_conflict"))  # one SNILS, two people?
            elif w >= review_weight:
                self.decisions.append(Decision(l, r, w, "review:uncertain"))

    def labels(self) -> list[int]:
        return [self.find(x) for x in range(len(self.parent))]
