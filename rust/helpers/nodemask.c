// SPDX-License-Identifier: GPL-2.0

#include <linux/nodemask.h>

__rust_helper unsigned int rust_helper___first_node(const nodemask_t *srcp)
{
	return __first_node(srcp);
}
