/* pdnsx-producer: placeholder until the orchestrator lands. */
#include <stdio.h>
int main(void)
{
    fputs("pdnsx-producer: not built yet\n", stderr);
    return 1;
}
