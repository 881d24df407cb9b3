// The console's choices derived from a template's roles (no browser, no server): which roles
// a room's main stage shows and the bulk role change's first choice, for the built-in template
// and for another one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mainStageRoles, bulkRoleDefault } from '../console.js';

// The derivations read names, publish lists and breakout roles; permissions do not matter here.
const role = (name, priority, publish, extra = {}) => ({ name, priority, publish, permissions: {}, ...extra });

test('roles: the built-in template keeps its choices', () => {
  // As the server lists the built-in `breakout` template's roles in `joined`.
  const builtin = [
    role('host', 100, ['audio', 'video', 'screen', 'screen_audio']),
    role('co-host', 90, ['audio', 'video', 'screen', 'screen_audio']),
    role('moderator', 80, ['audio', 'video']),
    role('breakout', 20, ['audio', 'video']),
    role('guest', 10, [], { breakout_role: 'breakout' }),
  ];
  assert.deepEqual(mainStageRoles(builtin), ['host', 'co-host']);
  assert.deepEqual(bulkRoleDefault(builtin), { from: 'guest', to: 'breakout' });
});

test('roles: another template gets its own main stage and bulk change', () => {
  const classroom = [
    role('teacher', 50, ['audio', 'video', 'screen']),
    role('assistant', 40, ['audio', 'screen']),
    role('pupil', 5, [], { breakout_role: 'speaker' }),
    role('speaker', 5, ['audio']),
  ];
  assert.deepEqual(mainStageRoles(classroom), ['teacher', 'assistant']);
  assert.deepEqual(bulkRoleDefault(classroom), { from: 'pupil', to: 'speaker' });

  // Nobody shares a screen: the main stage is everyone who publishes.
  const talk = [role('lead', 9, ['audio', 'video']), role('member', 1, ['audio']), role('viewer', 0, [])];
  assert.deepEqual(mainStageRoles(talk), ['lead', 'member']);
  // No role acts as another in breakouts: the lowest becomes the highest.
  assert.deepEqual(bulkRoleDefault(talk), { from: 'viewer', to: 'lead' });
});
