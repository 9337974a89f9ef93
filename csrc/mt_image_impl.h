/*
 * Internal to image acceptance: what the check (mt_image.c) takes from the
 * trusted-key code (mt_image_key.c). Not public API.
 */
#ifndef MT_IMAGE_IMPL_H
#define MT_IMAGE_IMPL_H

#include <stdint.h>

#include "mt_image.h"

/* The trusted key whose key ID is id, or NULL (at most MT_IMAGE_MAX_KEYS
 * entries of policy->keys are looked at). */
const mt_image_key *mt_image_find_key(const mt_image_policy *policy, const uint8_t id[8]);

#endif
