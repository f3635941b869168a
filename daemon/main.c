#include <stdio.h>

#include "base/base.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("privresd\n");
	return 0;
}
