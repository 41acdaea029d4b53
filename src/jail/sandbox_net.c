/* Network rules of a running sandbox (corral_sandbox_set_net_rules). */
#include "jail/jail.h"

int corral_sandbox_set_net_rules(corral_sandbox *sb, const char *const *rules, size_t n_rules,
                                 corral_error *err)
{
	return egress_set_rules(&sb->egress, (char *const *)rules, n_rules, err);
}
