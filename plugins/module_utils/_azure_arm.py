# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logic of opskit's Azure Resource Manager modules (runbook 001), free of SDK calls.

* ``whatif_summary``: the changes of an ARM what-if result, in a stable
  shape, counted per change type, and whether applying would change anything.
* ``template_parameters``: deployment parameters in ARM's ``{name: {value}}`` form.
* ``plan_containerapp``: what a Container Apps update must send (the PATCH
  body) to reach a wanted image, replica bounds and traffic, and what changes;
  ``revision_rows`` / ``traffic_weights`` describe revisions and traffic.

The dicts are the SDK models' ``as_dict()`` form (snake_case attribute names).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

# What-if change types that change nothing (Ignore: a resource outside the
# template; NoChange: as declared; Unsupported: what-if cannot tell, reported).
NO_WRITE_TYPES = ('NoChange', 'Ignore')
CHANGE_TYPES = ('Create', 'Delete', 'Modify', 'Deploy', 'NoChange', 'Ignore', 'Unsupported')


def _get(obj, *names):
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
    return None


def _delta_paths(delta, prefix=''):
    paths = []
    for item in delta or []:
        path = (prefix + '.' if prefix else '') + str(_get(item, 'path') or '')
        children = _get(item, 'children')
        if children:
            paths.extend(_delta_paths(children, path))
        else:
            paths.append('%s (%s)' % (path, _get(item, 'property_change_type', 'propertyChangeType') or 'change'))
    return paths


def whatif_summary(result):
    """(changes, counts, would_change) of a what-if result given as a dict."""
    raw = _get(result, 'changes')
    if raw is None:
        raw = _get(_get(result, 'properties') or {}, 'changes') or []
    changes = []
    for change in raw:
        change_type = _get(change, 'change_type', 'changeType') or 'Unsupported'
        rid = _get(change, 'resource_id', 'resourceId') or ''
        changes.append({
            'resource_id': rid,
            'resource_type': _type_of(rid),
            'name': rid.rstrip('/').split('/')[-1],
            'change_type': change_type,
            'changed_properties': _delta_paths(_get(change, 'delta')),
            'unsupported_reason': _get(change, 'unsupported_reason', 'unsupportedReason'),
        })
    changes.sort(key=lambda c: (CHANGE_TYPES.index(c['change_type']) if c['change_type'] in CHANGE_TYPES
                                else len(CHANGE_TYPES), c['resource_id'].lower()))
    counts = dict((t, 0) for t in CHANGE_TYPES)
    for change in changes:
        counts[change['change_type']] = counts.get(change['change_type'], 0) + 1
    would_change = any(c['change_type'] not in NO_WRITE_TYPES for c in changes)
    return changes, counts, would_change


def _type_of(rid):
    parts = rid.strip('/').split('/')
    low = [p.lower() for p in parts]
    if 'providers' not in low:
        return ''
    i = len(low) - 1 - low[::-1].index('providers')
    rest = parts[i + 1:]
    return '/'.join([rest[0]] + rest[1::2]) if rest else ''


def whatif_lines(changes):
    """One human line a change that is not NoChange/Ignore (for the play's report)."""
    lines = []
    for c in changes:
        if c['change_type'] in NO_WRITE_TYPES:
            continue
        line = '%-8s %s %s' % (c['change_type'], c['resource_type'], c['name'])
        if c['changed_properties']:
            line += ': ' + ', '.join(c['changed_properties'][:8])
        lines.append(line)
    return lines


def template_parameters(parameters):
    """{name: value} or {name: {value: v}} -> ARM's {name: {value: v}}."""
    out = {}
    for name, value in (parameters or {}).items():
        if isinstance(value, dict) and set(value) <= set(['value', 'reference']) and value:
            out[name] = value
        else:
            out[name] = {'value': value}
    return out


# ------------------------------------------------------------ Container Apps
class PlanError(ValueError):
    pass


def traffic_weights(app, revisions):
    """{revision name: weight} of the app's ingress traffic, latestRevision resolved."""
    ingress = (_get(app, 'configuration') or {}).get('ingress') or {}
    latest = app.get('latest_revision_name')
    weights = {}
    for entry in ingress.get('traffic') or []:
        name = latest if entry.get('latest_revision') else entry.get('revision_name')
        if name:
            weights[name] = weights.get(name, 0) + int(entry.get('weight') or 0)
    if not weights and latest:
        weights = {latest: 100}
    return weights


def revision_rows(revisions):
    rows = []
    for rev in revisions:
        containers = (rev.get('template') or {}).get('containers') or [{}]
        rows.append({'name': rev.get('name'), 'fqdn': rev.get('fqdn'), 'image': containers[0].get('image'),
                     'active': rev.get('active'), 'traffic_weight': rev.get('traffic_weight') or 0,
                     'created_time': str(rev.get('created_time') or ''), 'health_state': rev.get('health_state'),
                     'replicas': rev.get('replicas')})
    rows.sort(key=lambda r: r['created_time'])
    return rows


def _container_index(template, container_name):
    containers = template.get('containers') or []
    if not containers:
        raise PlanError('the container app has no containers in its template')
    if not container_name:
        return 0
    for i, c in enumerate(containers):
        if c.get('name') == container_name:
            return i
    raise PlanError('container_name: no container %r in the app (it has %s)'
                    % (container_name, ', '.join(c.get('name', '?') for c in containers)))


def plan_containerapp(app, revisions, image=None, container_name=None, revision_suffix=None,
                      min_replicas=None, max_replicas=None, traffic=None):
    """The PATCH body (as_dict form, or None) and the list of changes.

    A new image is a new revision that takes no traffic: the current traffic
    is pinned by revision name in the same update, so users stay on the
    revision they are on until ``traffic`` moves them.  A change of the
    replica bounds alone is also a new revision (scale is revision-scope in
    Container Apps); the weight of the latest revision follows it.
    """
    template = copy.deepcopy(app.get('template') or {})
    changes = []
    current = traffic_weights(app, revisions)
    latest = app.get('latest_revision_name')
    new_revision = False
    if image:
        idx = _container_index(template, container_name)
        if template['containers'][idx].get('image') != image:
            changes.append('image %s -> %s (new revision)' % (template['containers'][idx].get('image'), image))
            template['containers'][idx]['image'] = image
            new_revision = True
    scale = template.setdefault('scale', {}) or {}
    template['scale'] = scale
    for key, value in (('min_replicas', min_replicas), ('max_replicas', max_replicas)):
        if value is not None and scale.get(key) != value:
            changes.append('%s %s -> %s' % (key, scale.get(key), value))
            scale[key] = value
            new_revision = True
    lo = scale.get('min_replicas')
    hi = scale.get('max_replicas')
    if lo is not None and hi is not None and lo > hi:
        raise PlanError('min_replicas (%s) must not exceed max_replicas (%s)' % (lo, hi))
    image_changed = bool(changes) and changes[0].startswith('image ')
    if new_revision:
        if revision_suffix:
            wanted = '%s--%s' % (app.get('name'), revision_suffix)
            if any(r.get('name') == wanted for r in revisions):
                raise PlanError('revision_suffix: revision %s already exists; a new revision needs a new suffix'
                                % wanted)
            template['revision_suffix'] = revision_suffix
        else:
            template.pop('revision_suffix', None)
    wanted_traffic = None
    if traffic is not None:
        names = set(r.get('name') for r in revisions)
        wanted = {}
        for entry in traffic:
            name = entry.get('revision_name')
            if entry.get('latest_revision'):
                name = '%s--%s' % (app.get('name'), revision_suffix) if new_revision and revision_suffix else latest
            if name not in names and not (new_revision and revision_suffix and name.endswith('--' + revision_suffix)):
                raise PlanError('traffic: revision %r does not exist (revisions: %s)' % (name, ', '.join(sorted(names))))
            wanted[name] = wanted.get(name, 0) + int(entry.get('weight') or 0)
        if sum(wanted.values()) != 100:
            raise PlanError('traffic: weights must add up to 100, got %d' % sum(wanted.values()))
        wanted = dict((k, v) for k, v in wanted.items() if v)
        if wanted != dict((k, v) for k, v in current.items() if v):
            changes.append('traffic %s -> %s' % (_fmt_weights(current), _fmt_weights(wanted)))
            wanted_traffic = [{'revision_name': k, 'weight': v} for k, v in sorted(wanted.items())]
    elif image_changed:
        # keep users where they are: pin the current weights by name
        wanted_traffic = [{'revision_name': k, 'weight': v} for k, v in sorted(current.items()) if v]
    elif new_revision:
        # scale only: the latest revision's weight follows to the new one
        moved = [{'latest_revision': True, 'weight': current.get(latest, 0)}] if current.get(latest) else []
        wanted_traffic = moved + [{'revision_name': k, 'weight': v} for k, v in sorted(current.items())
                                  if v and k != latest]
    if not changes:
        return None, []
    body = {'location': app.get('location')}
    if new_revision:
        body['template'] = template
    if wanted_traffic is not None:
        ingress = copy.deepcopy((app.get('configuration') or {}).get('ingress'))
        if ingress is None:
            if traffic is not None:
                raise PlanError('traffic: the container app has no ingress, so it has no traffic to split')
        else:
            ingress['traffic'] = wanted_traffic
            for key in ('fqdn', 'custom_domains'):
                ingress.pop(key, None)
            body['configuration'] = {'ingress': ingress}
    return body, changes


def _fmt_weights(weights):
    return ', '.join('%s=%d%%' % (k, v) for k, v in sorted(weights.items()) if v) or 'none'


def deactivations(revisions, names):
    """Revisions of ``names`` that are active and take no traffic (to deactivate)."""
    known = dict((r.get('name'), r) for r in revisions)
    todo = []
    for name in names or []:
        if name not in known:
            raise PlanError('deactivate: revision %r does not exist' % name)
        rev = known[name]
        if rev.get('traffic_weight'):
            raise PlanError('deactivate: revision %s still takes %s%% of the traffic; move it first'
                            % (name, rev.get('traffic_weight')))
        if rev.get('active'):
            todo.append(name)
    return todo
